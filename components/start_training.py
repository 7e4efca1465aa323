from kfp import dsl

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def start_training(kfp_host: str, pipeline_name: str, experiment: str, training_params: dict) -> str:
    """Start a run of the uploaded training pipeline's newest version through the KFP API; returns its id.

    Args:
        kfp_host: the KFP API (empty: the in-cluster default, ml-pipeline.kubeflow:8888).
        training_params: parameters of that run (e.g. model_store_uri, dataset_uri).
    """
    import kfp

    from twitter_sentiment import logs, retrain

    logs.setup()
    return retrain.start_training_run(kfp.Client(host=kfp_host or None), pipeline_name, experiment,
                                      "drift-retrain", training_params)

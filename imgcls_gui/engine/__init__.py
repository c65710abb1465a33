"""The Qt-free engine: the public face the CLI and the GUI import from.

The engine is grouped by stage of the data path (see ``docs/architecture.md``)::

    data/        folder, CSV, VOC or project -> samples -> split -> torch Dataset and loaders
    models/      the backbone registry, building a model with weights and head, freezing
    training/    the Trainer: run setup, loops, schedules, RNG state, feature cache
    evaluation/  a model over a split -> metrics and per-image results; Grad-CAM explanations
    deploy/      export to ONNX/TorchScript, offline prediction, result tables, sorting
    diagnosis/   likely label errors, near-duplicates and outliers from cross-validated backbone features
    project/     the project store (project.sqlite) and its runs

Every public name is listed in ``_PUBLIC`` and imported on first use (PEP 562 ``__getattr__``), so
``from imgcls_gui.engine import Trainer`` costs torch only when a run starts and importing this
package stays cheap for the app's start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import events
from .config import (
    AugmentConfig,
    DataConfig,
    FreezeConfig,
    ModelConfig,
    OptimizerName,
    RunConfig,
    SchedulerName,
    TrainConfig,
    check_config,
    config_schema,
    option_spec,
    override,
    run_options,
)
from .options import Option, OptionSpec
from .errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    DistributedRunError,
    ExportError,
    ImageReadError,
    ImgclsError,
    ModelError,
    NotEnoughMemoryError,
    OptionValueError,
    JobProcessDied,
    JobStopped,
    StopRequested,
    TrainingProcessDied,
)

# public name -> the module (relative to this package) that defines it
_PUBLIC: dict[str, str] = {
    # data
    "LabeledDataset": "data.samples", "Problem": "data.samples", "Sample": "data.samples",
    "load_dataset": "data.datasets", "open_dataset": "data.datasets", "require_trainable": "data.datasets",
    "load_image": "data.images", "is_image_path": "data.images", "IMAGE_EXTENSIONS": "data.images",
    "split_dataset": "data.split", "Split": "data.split",
    "health_report": "data.health",
    "demo_dataset_dir": "data.demo", "default_data_dir": "data.demo", "DEMO_FOLDER_NAME": "data.demo",
    "Preprocessing": "data.preprocess",
    "train_transform": "data.transforms", "augmentation_preview": "data.transforms",
    # models
    "BackboneSpec": "models.registry", "get_backbone": "models.registry", "list_backbones": "models.registry",
    "build_model": "models.build", "spec_of": "models.build", "preprocessing_for": "models.build",
    "weights_cached": "models.build", "weights_cache_path": "models.build",
    "describe_layer_groups": "models.freezing", "freeze_plan": "models.freezing", "FreezePlan": "models.freezing",
    "GroupFreeze": "models.freezing", "is_under": "models.registry",
    # training
    "Trainer": "training.trainer", "FitResult": "training.trainer",
    "TrainingChild": "training.child_process", "JobControl": "training.child_process",
    "acquire_child": "training.child_process", "release_child": "training.child_process",
    "warm_child": "training.child_process", "idle_children": "training.child_process",
    "live_children": "training.child_process", "CHILD_WARM_MODULES": "training.child",
    "CHILD_PROCESSES_HOOK": "training.child", "CHILD_PROCESSES_LOG": "training.child",
    "ChildCheck": "training.self_check", "self_check_in_child": "training.self_check",
    "shutdown_children": "training.child_process", "exit_cause": "training.child_process",
    "launch_local": "training.distributed", "launched_by_torchrun": "training.distributed",
    "process_rank": "training.distributed", "record_rank_failure": "training.distributed",
    "find_lr": "training.lr_find", "LrFindResult": "training.lr_find", "read_lr_find": "training.lr_find",
    "Search": "training.search", "SearchSettings": "training.search", "SearchResult": "training.search",
    "read_search": "training.search", "SEARCH_FILE": "training.search", "METRICS": "training.search",
    "STUDY_FILE": "training.search",
    "PRUNERS": "training.search",
    "SearchSpace": "training.search_space", "default_space": "training.search_space",
    "read_space": "training.search_space", "parse_space": "training.search_space",
    "DEFAULT_SPACE_YAML": "training.search_space",
    "LrFindRun": "training.jobs", "SearchRun": "training.jobs", "lr_find_in_child": "training.jobs",
    "search_in_child": "training.jobs", "resume_search_in_child": "training.jobs",
    # evaluation
    "evaluate_run": "evaluation.evaluate", "write_report": "evaluation.evaluate",
    "run_results": "evaluation.results", "RunResults": "evaluation.results",
    "SampleResult": "evaluation.results", "Curve": "evaluation.results",
    "Explanation": "evaluation.explain", "Explainer": "evaluation.explain", "explain_images": "evaluation.explain",
    "overlay_image": "evaluation.explain", "overlay_png": "evaluation.explain", "write_overlays": "evaluation.explain",
    "CAM_METHODS": "evaluation.explain", "heatmap_image": "evaluation.explain",
    "embedding_map": "evaluation.embedding_map", "EmbeddingMap": "evaluation.embedding_map",
    "MAP_METHODS": "evaluation.embedding_map",
    # deploy
    "export_onnx": "deploy.export", "export_torchscript": "deploy.export", "export_bundle": "deploy.export",
    "BUNDLE_FILES": "deploy.export",
    "ExportPlan": "deploy.jobs", "ExportResult": "deploy.jobs", "export_in_child": "deploy.jobs",
    "check_export_plan": "deploy.jobs", "results_in_child": "deploy.jobs",
    "predict_in_child": "deploy.jobs",
    "ExplainedImage": "deploy.explain_jobs", "explain_in_child": "deploy.explain_jobs",
    "ModelDescription": "deploy.inference_jobs", "FramePrediction": "deploy.inference_jobs",
    "describe_in_child": "deploy.inference_jobs", "watch_in_child": "deploy.inference_jobs",
    "frame_in_child": "deploy.inference_jobs",
    "export_onnx_int8": "deploy.quantize", "export_bundle_int8": "deploy.quantize",
    "QuantizationReport": "deploy.quantize", "QuantizationRefusedError": "deploy.quantize",
    "read_quantization_report": "deploy.quantize", "quantization_report_path": "deploy.quantize",
    "DEFAULT_CALIBRATION_IMAGES": "deploy.quantize", "DEFAULT_MIN_AGREEMENT": "deploy.quantize",
    "Predictor": "deploy.predict", "Prediction": "deploy.predict",
    "iter_image_paths": "deploy.predict_io", "output_writer": "deploy.predict_io",
    "write_predictions": "deploy.predict_io", "append_csv": "deploy.predict_io", "predicted_paths": "deploy.predict_io",
    "spreadsheet_safe": "deploy.predict_io",
    "watch_and_predict": "deploy.watch", "WatchControl": "deploy.watch", "FolderWatcher": "deploy.watch",
    "WatchSummary": "deploy.watch",
    "sort_into": "deploy.sorting", "SortReport": "deploy.sorting",
    # diagnosis
    "diagnose": "diagnosis.diagnose", "write_diagnosis": "diagnosis.diagnose", "Diagnosis": "diagnosis.diagnose",
    "Issue": "diagnosis.diagnose", "ISSUE_COLUMNS": "diagnosis.diagnose", "BackboneSource": "diagnosis.embeddings",
    "latest_run_with_model": "diagnosis.embeddings", "embed_images": "diagnosis.embeddings",
    "diagnose_in_child": "diagnosis.jobs", "map_in_child": "diagnosis.jobs", "MapData": "diagnosis.jobs",
    # project
    "Project": "project.store", "ProjectLockedError": "project.store", "ImageRecord": "project.store",
    "PROJECT_FILE": "project.store", "DeletedClass": "project.store", "RemovedImages": "project.store",
    "scan_image_info": "project.store", "split_to_assignment": "project.store",
    "RunSummary": "project.runs", "list_runs": "project.runs", "read_run": "project.runs",
    "new_run_dir": "project.runs", "mark_failed": "project.runs", "clear_failure": "project.runs",
    "set_run_info": "project.runs", "delete_run": "project.runs",
    "capture_folder": "project.captures", "save_frames": "project.captures", "captured_dataset": "project.captures",
    "RUN_CONFIG_KEY": "project.settings", "demo_run_config": "training.demo",
    # infrastructure
    "describe_device": "device", "ALL_GPUS": "device", "ComputeDevice": "device", "atomic_write_bytes": "checkpoint", "atomic_write_text": "checkpoint",
    "UntrustedCodeError": "trusted_code", "is_torchscript_archive": "model_files",
    "OutputExistsError": "outputs", "refuse_to_replace": "outputs", "refuse_to_replace_source": "outputs",
    "refuse_busy_folder": "outputs",
    "Preset": "presets", "PRESETS": "presets", "apply_preset": "presets", "matches": "presets",
    "preset_named": "presets",
}

__all__ = [
    "events", "AugmentConfig", "DataConfig", "FreezeConfig", "ModelConfig", "OptimizerName", "RunConfig",
    "SchedulerName", "TrainConfig", "override", "run_options", "option_spec", "check_config", "config_schema", "Option",
    "OptionSpec", "CheckpointError", "ConfigError", "DatasetError", "DistributedRunError",
    "ExportError", "ImageReadError", "ImgclsError", "ModelError", "NotEnoughMemoryError", "OptionValueError",
    "StopRequested", "TrainingProcessDied", "JobProcessDied", "JobStopped",
    *_PUBLIC,
]


def __getattr__(name: str) -> Any:
    """Import the module that defines a public name the first time the name is used."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


if TYPE_CHECKING:  # static checkers and IDEs see the real definitions
    from .checkpoint import atomic_write_bytes, atomic_write_text
    from .data.datasets import load_dataset, open_dataset, require_trainable
    from .data.demo import DEMO_FOLDER_NAME, default_data_dir, demo_dataset_dir
    from .data.health import health_report
    from .data.images import IMAGE_EXTENSIONS, is_image_path, load_image
    from .data.preprocess import Preprocessing
    from .data.samples import LabeledDataset, Problem, Sample
    from .data.split import Split, split_dataset
    from .data.transforms import augmentation_preview, train_transform
    from .deploy.explain_jobs import ExplainedImage, explain_in_child
    from .deploy.inference_jobs import (FramePrediction, ModelDescription, describe_in_child, frame_in_child,
                                        watch_in_child)
    from .deploy.export import BUNDLE_FILES, export_bundle, export_onnx, export_torchscript
    from .deploy.jobs import (ExportPlan, ExportResult, check_export_plan, export_in_child, predict_in_child,
                              results_in_child)
    from .deploy.quantize import (
        DEFAULT_CALIBRATION_IMAGES,
        DEFAULT_MIN_AGREEMENT,
        QuantizationRefusedError,
        QuantizationReport,
        export_bundle_int8,
        export_onnx_int8,
        quantization_report_path,
        read_quantization_report,
    )
    from .deploy.predict import Prediction, Predictor
    from .deploy.predict_io import (
        append_csv,
        iter_image_paths,
        output_writer,
        predicted_paths,
        spreadsheet_safe,
        write_predictions,
    )
    from .deploy.sorting import SortReport, sort_into
    from .deploy.watch import FolderWatcher, WatchControl, WatchSummary, watch_and_predict
    from .device import ALL_GPUS, ComputeDevice, describe_device
    from .diagnosis.diagnose import ISSUE_COLUMNS, Diagnosis, Issue, diagnose, write_diagnosis
    from .diagnosis.embeddings import BackboneSource, embed_images, latest_run_with_model
    from .diagnosis.jobs import MapData, diagnose_in_child, map_in_child
    from .evaluation.evaluate import evaluate_run, write_report
    from .evaluation.embedding_map import MAP_METHODS, EmbeddingMap, embedding_map
    from .evaluation.explain import (
        CAM_METHODS,
        Explainer,
        Explanation,
        explain_images,
        heatmap_image,
        overlay_image,
        overlay_png,
        write_overlays,
    )
    from .evaluation.results import Curve, RunResults, SampleResult, run_results
    from .models.build import build_model, preprocessing_for, spec_of, weights_cache_path, weights_cached
    from .model_files import is_torchscript_archive
    from .outputs import OutputExistsError, refuse_busy_folder, refuse_to_replace, refuse_to_replace_source
    from .presets import PRESETS, Preset, apply_preset, matches, preset_named
    from .models.freezing import FreezePlan, GroupFreeze, describe_layer_groups, freeze_plan
    from .models.registry import BackboneSpec, get_backbone, is_under, list_backbones
    from .project.runs import (
        RunSummary,
        clear_failure,
        delete_run,
        list_runs,
        mark_failed,
        new_run_dir,
        read_run,
        set_run_info,
    )
    from .project.captures import capture_folder, captured_dataset, save_frames
    from .project.settings import RUN_CONFIG_KEY
    from .project.store import (
        PROJECT_FILE,
        DeletedClass,
        ImageRecord,
        Project,
        ProjectLockedError,
        RemovedImages,
        scan_image_info,
        split_to_assignment,
    )
    from .training.demo import demo_run_config
    from .training.distributed import launch_local, launched_by_torchrun, process_rank, record_rank_failure
    from .training.jobs import LrFindRun, SearchRun, lr_find_in_child, resume_search_in_child, search_in_child
    from .training.lr_find import LrFindResult, find_lr, read_lr_find
    from .training.search import (METRICS, PRUNERS, SEARCH_FILE, STUDY_FILE, Search, SearchResult, SearchSettings,
                                  read_search)
    from .training.search_space import DEFAULT_SPACE_YAML, SearchSpace, default_space, parse_space, read_space
    from .training.child_process import (JobControl, TrainingChild, acquire_child, exit_cause, idle_children,
                                         live_children,
                                         release_child, shutdown_children, warm_child)
    from .training.child import CHILD_PROCESSES_HOOK, CHILD_PROCESSES_LOG, CHILD_WARM_MODULES
    from .training.self_check import ChildCheck, self_check_in_child
    from .training.trainer import FitResult, Trainer
    from .trusted_code import UntrustedCodeError

"""The pipeline's job workers: what each stage does (download → separate → analyze).

How jobs are queued, claimed, retried and cancelled is ``soundforge.queue``'s business;
the audio work itself runs in ports (``soundforge.audio``). A worker ties the two together:
it asks a warm port to do the work, relays progress to PubSub, and records the results
together with the next stage's job in one transaction.
"""

from soundforge.jobs.context import PipelineContext, install, pipeline_context
from soundforge.jobs.pipeline import PIPELINE_WORKERS, Analyze, Download, Separate

__all__ = [
    "PIPELINE_WORKERS",
    "Analyze",
    "Download",
    "PipelineContext",
    "Separate",
    "install",
    "pipeline_context",
]

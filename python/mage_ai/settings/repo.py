"""Mage's get_repo_path: the project's folder."""

from mage_ai._unsupported import module_getattr
from pg_pipeline_runtime import context

__getattr__ = module_getattr(__name__)

# Where a project lives when the run has no folder for it: a path that does not exist, so
# ConfigFileLoader falls back on the profiles the run carries.
NO_FOLDER = '/pg_pipeline_project'


def get_repo_path(*args, **kwargs):
    """The running pipeline's project folder (the request's project_dir)."""
    ctx = context.current_or_none()
    folder = ctx.request.project_dir if ctx is not None else None
    return folder or NO_FOLDER

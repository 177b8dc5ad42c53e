"""Mage's get_variable, for the outputs of the running pipeline's blocks: the upstream blocks'
and any the request lists under "outputs", read from their tables."""

from mage_ai._unsupported import module_getattr
from pg_pipeline_runtime import context
from pg_pipeline_runtime.tables import PgPipelineError

__getattr__ = module_getattr(__name__)


def get_variable(pipeline_uuid, block_uuid, variable_name='output_0', *args, **kwargs):
    """The DataFrame block block_uuid of this run returned."""
    request = context.current().request
    if pipeline_uuid != request.pipeline:
        raise PgPipelineError('get_variable reads the running pipeline "%s" only, not "%s"'
                              % (request.pipeline, pipeline_uuid), '0A000')
    if variable_name not in (None, 'output_0', 'df'):
        raise PgPipelineError('get_variable supports the output variable (output_0) only, not "%s"'
                              % variable_name, '0A000')
    relation = request.outputs.get(block_uuid)
    if relation is None:
        raise PgPipelineError('no output of block "%s" is available to block "%s"'
                              % (block_uuid, request.block), '42704',
                              'get_variable reads the outputs of upstream blocks.')
    return context.current().database.read_relation(relation)

"""Mage's block decorators. Each records the function it decorates for pg_pipeline's runner
(which finds the block function and its @test functions there) and returns it unchanged. They
work bare (@transformer) and called (@callback('success'))."""

from mage_ai._unsupported import module_getattr
from pg_pipeline_runtime import context

__getattr__ = module_getattr(__name__)


def _decorator(kind):
    """The decorator that registers functions under kind."""

    def decorate(*args, **kwargs):
        """@kind on a function, or @kind(...) returning the decorator."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            context.registry().add(kind, args[0])
            return args[0]

        def register(function):
            """Registers function and returns it."""
            context.registry().add(kind, function)
            return function

        return register

    decorate.__name__ = decorate.__qualname__ = kind
    return decorate


NAMES = ('data_loader', 'transformer', 'data_exporter', 'custom', 'sensor', 'test', 'condition',
         'callback', 'on_success', 'on_failure')

data_loader = _decorator('data_loader')
transformer = _decorator('transformer')
data_exporter = _decorator('data_exporter')
custom = _decorator('custom')
sensor = _decorator('sensor')
test = _decorator('test')
condition = _decorator('condition')
callback = _decorator('callback')
on_success = _decorator('on_success')
on_failure = _decorator('on_failure')

"""The error for a name of Mage's that pg_pipeline's mage_ai does not provide."""


def module_getattr(module_name):
    """A module-level __getattr__ for module_name whose AttributeError says what is missing."""

    def __getattr__(name):
        if name.startswith('__'):  # Python's own probes (__path__, __wrapped__, ...)
            raise AttributeError(name)
        raise AttributeError('%s.%s is not supported by pg_pipeline' % (module_name, name))

    return __getattr__

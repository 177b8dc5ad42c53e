"""Mage's io_config.yaml profiles: ConfigFileLoader(path, profile) and ConfigKey.

A profile's settings come from the file at path when it exists, then from the run's io_config
(the request's entry for the profile, which wins: pipeline.set_profile writes there, e.g.
"pg_pipeline_remote": true). As in Mage, {{ env_var('NAME') }} (optionally with a default,
env_var('NAME', 'default')) is rendered from the environment before the YAML is parsed.

An unset variable is an error only when its setting is read: a profile that means this
database never reads POSTGRES_PASSWORD, so it needs no such variable in the server's
environment; a remote one does, and then the error names the variable.
"""

import enum
import os
import re

import yaml

from mage_ai._unsupported import module_getattr
from pg_pipeline_runtime import context

__getattr__ = module_getattr(__name__)

ENV_VAR = re.compile(r"""\{\{\s*env_var\(\s*(['"])([^'"]*)\1\s*(?:,\s*(['"])(.*?)\3\s*)?\)\s*\}\}""")
MISSING = 'PG_PIPELINE_UNSET_ENV_VAR__%s__'
MISSING_FOUND = re.compile(r'PG_PIPELINE_UNSET_ENV_VAR__(.+?)__')


class ConfigKey(str, enum.Enum):
    """The io_config keys of a Postgres profile."""
    POSTGRES_CONNECT_TIMEOUT = 'POSTGRES_CONNECT_TIMEOUT'
    POSTGRES_DBNAME = 'POSTGRES_DBNAME'
    POSTGRES_HOST = 'POSTGRES_HOST'
    POSTGRES_PASSWORD = 'POSTGRES_PASSWORD'
    POSTGRES_PORT = 'POSTGRES_PORT'
    POSTGRES_SCHEMA = 'POSTGRES_SCHEMA'
    POSTGRES_USER = 'POSTGRES_USER'


class ConfigError(ValueError):
    """A profile or setting that cannot be read."""


def render_env_vars(text, environ):
    """text with each {{ env_var(...) }} replaced by the variable's value, its default, or a
    marker that reading the setting later reports."""

    def value(match):
        """The text one {{ env_var(...) }} renders to."""
        name, default = match.group(2), match.group(4)
        if name in environ:
            return environ[name]
        return default if default is not None else MISSING % name

    return ENV_VAR.sub(value, text)


def load_profiles(path, environ):
    """The profiles of the io_config file at path, rendered and parsed."""
    with open(path, encoding='utf-8') as f:
        text = render_env_vars(f.read(), environ)
    try:
        profiles = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError('%s is not valid YAML: %s' % (path, e)) from None
    if not isinstance(profiles, dict):
        raise ConfigError('%s must map profile names to their settings' % path)
    return profiles


def _key(key):
    """A setting's name, from a string or a ConfigKey."""
    return key.value if isinstance(key, enum.Enum) else str(key)


class ConfigFileLoader:
    """One profile's settings (see the module comment)."""

    def __init__(self, filepath=None, profile='default', config=None, **kwargs):
        ctx = context.current_or_none()
        if filepath is None and config is None:
            from mage_ai.settings.repo import get_repo_path
            filepath = os.path.join(get_repo_path(), 'io_config.yaml')
        self.filepath = filepath
        self.profile = profile
        self.settings = {}
        found = False
        if config is not None:
            self.settings.update(config)
            found = True
        elif filepath and os.path.isfile(filepath):
            profiles = load_profiles(filepath, os.environ)
            if profiles.get(profile) is not None:
                self.settings.update(profiles[profile])
                found = True
        run_profile = ctx.request.io_config.get(profile) if ctx is not None else None
        if run_profile is not None:
            self.settings.update(run_profile)
            found = True
        # A profile defined nowhere is an empty one: for Postgres it means this database (the
        # block's own transaction), which needs no setting; reading a setting from it fails
        # naming the profile.
        self.defined = found

    def __getitem__(self, key):
        name = _key(key)
        if name not in self.settings:
            if not self.defined:
                raise ConfigError('io_config profile "%s" is not defined (looked in %s and in the '
                                  "pipeline's io_config), so it has no setting %s"
                                  % (self.profile, self.filepath, name))
            raise KeyError('io_config profile "%s" has no setting %s' % (self.profile, name))
        value = self.settings[name]
        missing = MISSING_FOUND.search(value) if isinstance(value, str) else None
        if missing:
            raise ConfigError('io_config profile "%s": %s uses environment variable %s, which is '
                              "not set in the database server's environment"
                              % (self.profile, name, missing.group(1)))
        return value

    def get(self, key, default=None):
        """The setting's value, or default when the profile has no such setting."""
        return self[key] if _key(key) in self.settings else default

    def __contains__(self, key):
        return _key(key) in self.settings

    @property
    def pg_pipeline_remote(self):
        """Whether the profile names another server instead of this database."""
        return self.settings.get('pg_pipeline_remote') is True

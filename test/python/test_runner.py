"""run_block without a database: log lines from prints, the logger and warnings; errors with
the line in the user's file; @test results; keyword arguments as Mage passes them; sensors and
conditionals. (Blocks here have no upstream and no output table.)"""

import json
import unittest

import support
from pg_pipeline_runtime import runner

PREAMBLE = '''if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test
'''


def run(source, kind='custom', **request):
    """The response of run_block for a block of source."""
    request.update(kind=kind, block='b', path='custom/b.py', source=source)
    return json.loads(runner.run_block(support.FakePlpy(), json.dumps(request)))


def line_of(source, text):
    """The 1-based line of source that contains text."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


class RunnerTest(unittest.TestCase):

    def test_prints_logger_and_warnings_become_log_lines(self):
        source = PREAMBLE + '''import warnings
@custom
def f(*args, **kwargs):
    print('one'); print('two\\nthree', end='')
    kwargs['logger'].info('from the logger')
    warnings.warn('careful')
'''
        response = run(source)
        self.assertIsNone(response['error'])
        self.assertEqual(response['log'][:4], ['one', 'two', 'three', 'INFO from the logger'])
        self.assertRegex(response['log'][4], r'^warning: UserWarning: careful \(custom/b.py, line \d+\)$')

    def test_an_exception_names_the_users_line(self):
        source = PREAMBLE + '''
def helper(d):
    return d['missing']

@custom
def f(*args, **kwargs):
    return helper({})
'''
        error = run(source)['error']
        self.assertEqual(error['line'], line_of(source, "d['missing']"))
        self.assertEqual(error['sqlstate'], '38000')
        self.assertEqual(error['message'], "KeyError: 'missing' (custom/b.py, line %d)" % error['line'])
        self.assertIn('in helper', error['detail'])
        self.assertIn('in f', error['detail'])

    def test_a_syntax_error_names_its_line(self):
        error = run(PREAMBLE + '@custom\ndef f(:\n    pass\n')['error']
        self.assertEqual(error['line'], 6)
        self.assertTrue(error['message'].startswith('SyntaxError'))

    def test_decorators_are_builtins_not_globals(self):
        source = '''imported = 'custom' not in globals()
if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom

@custom
def f(*args, **kwargs):
    print('imported' if imported else 'injected')
'''
        self.assertEqual(run(source)['log'], ['imported'])
        bare = '''@custom
def f(*args, **kwargs):
    return 1

@test
def test_output(output, *args):
    assert output == 1
'''
        response = run(bare)
        self.assertIsNone(response['error'])
        self.assertTrue(response['tests'][0]['passed'])

    def test_a_block_without_its_decorator(self):
        error = run('def f():\n    pass\n', kind='transformer')['error']
        self.assertEqual(error['message'], 'custom/b.py has no @transformer function')

    def test_an_unsupported_mage_import_says_so(self):
        error = run('from mage_ai.io.bigquery import BigQuery\n')['error']
        self.assertIn("No module named 'mage_ai.io.bigquery'", error['message'])
        self.assertIn('not supported by pg_pipeline', error['message'])
        self.assertEqual(error['line'], 1)

    def test_tests_pass_and_fail_with_the_users_message(self):
        source = PREAMBLE + '''@custom
def f(*args, **kwargs):
    return 41

@test
def test_ok(output, *args) -> None:
    assert output == 41

@test
def test_message(output, *args) -> None:
    assert output == 42, 'The answer is wrong'

@test
def test_bare(output):
    assert output == 42

@test
def test_raises(output, *args, **kwargs):
    raise ValueError('bad ' + kwargs['block_uuid'])
'''
        tests = run(source)['tests']
        self.assertEqual([(t['name'], t['passed']) for t in tests],
                         [('test_ok', True), ('test_message', False), ('test_bare', False),
                          ('test_raises', False)])
        self.assertEqual(tests[1]['message'], 'The answer is wrong')
        self.assertEqual(tests[1]['line'], line_of(source, 'The answer is wrong'))
        self.assertEqual(tests[2]['message'], 'assertion failed (custom/b.py, line %d)' % tests[2]['line'])
        self.assertEqual(tests[3]['message'], 'ValueError: bad b')

    def test_keyword_arguments_as_mage_passes_them(self):
        source = PREAMBLE + '''import datetime
@custom
def f(*args, **kwargs):
    assert args == ()
    assert kwargs['execution_date'] == datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)
    assert kwargs['interval_start_datetime'] == datetime.datetime(2021, 1, 1)
    assert kwargs['pipeline_uuid'] == 'api_to_postgres' and kwargs['block_uuid'] == 'b'
    assert kwargs['run_id'] == 7 and kwargs['configuration'] == {'x': 1}
    assert kwargs['taxi_color'] == 'yellow'
'''
        response = run(source, execution_date='2021-01-01T00:00:00Z', run_id=7,
                       pipeline='api_to_postgres', configuration={'x': 1},
                       interval_start_datetime='2021-01-01T00:00:00',
                       variables={'taxi_color': 'yellow'})
        self.assertIsNone(response['error'])

    def test_functions_get_the_arguments_they_can_take(self):
        source = PREAMBLE + '''@custom
def f(taxi_color):
    return None
'''
        self.assertIsNone(run(source, variables={'taxi_color': 'green', 'other': 1})['error'])

    def test_sensors_and_conditionals_answer_a_boolean(self):
        sensor = '''from mage_ai.data_preparation.decorators import sensor
@sensor
def ready(*args, **kwargs) -> bool:
    return kwargs['go'] == 'yes'
'''
        self.assertIs(run(sensor, kind='sensor', variables={'go': 'yes'})['result'], True)
        condition = '''from mage_ai.data_preparation.decorators import condition
@condition
def evaluate_condition(*args, **kwargs) -> bool:
    return 0
'''
        self.assertIs(run(condition, kind='conditional')['result'], False)

    def test_a_bad_request_is_an_error_response(self):
        response = json.loads(runner.run_block(support.FakePlpy(), '{"kind": "spark"}'))
        self.assertEqual(response['error']['sqlstate'], '22023')


if __name__ == '__main__':
    unittest.main()

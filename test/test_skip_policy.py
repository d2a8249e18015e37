"""skip_policy: where ROS is expected, skipped ROS tests fail; allowed reasons and other tests still skip.

Each case runs a small pytest session (pytester) whose conftest loads the same hooks as ours.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = "from skip_policy import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n"
INI = "[pytest]\nmarkers =\n    ros: real rclpy over DDS\n"
TESTS = '''
import pytest

@pytest.mark.ros
def test_ros_skipped_at_run():
    pytest.skip("could not import 'rclpy': libfoo.so missing")

@pytest.mark.ros
def test_ros_skipped_in_a_fixture(broken):
    pass

@pytest.fixture
def broken():
    pytest.skip("sensor_msgs is not importable")

@pytest.mark.ros
def test_ros_without_launch_ros():
    pytest.skip("launch_ros is not installed (the pip ROS 2 wheels lack it)")

@pytest.mark.ros
def test_ros_without_real_scans():
    pytest.skip("real scans not present at /x/shared/real_scans (only on development machines)")

@pytest.mark.ros
@pytest.mark.skipif(True, reason="needs a CUDA device")
def test_ros_without_cuda():
    pass

def test_not_ros_skipped():
    pytest.skip("real scans not present")

@pytest.mark.ros
@pytest.mark.xfail(reason="known bug", run=False)
def test_ros_xfail():
    pass

@pytest.mark.ros
def test_ros_passes():
    pass
'''
MODULE_SKIPPED = 'import pytest\nrclpy = pytest.importorskip("a_missing_ros_package")\n\ndef test_x():\n    pass\n'


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory holding the cases above; no CI or strictness set from outside."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CLICKENHANCE_STRICT_ROS_SKIPS", raising=False)
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_cases=TESTS)
    return pytester


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """'name: outcome' of each test and collected module, from the verbose report."""
    found = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "SKIPPED", "XFAIL", "ERROR"):
            if f" {word}" in line and "::" in line and not line.startswith(word):
                found[line.split("::")[1].split()[0]] = word
    return found


def test_where_ros_is_expected_ros_skips_fail_except_allowed_reasons(session: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = session.runpytest("-v", "-rA")
    assert outcomes(result) == {
        "test_ros_skipped_at_run": "FAILED", "test_ros_skipped_in_a_fixture": "ERROR",
        "test_ros_without_launch_ros": "SKIPPED", "test_ros_without_real_scans": "SKIPPED",
        "test_ros_without_cuda": "SKIPPED",
        "test_not_ros_skipped": "SKIPPED", "test_ros_xfail": "XFAIL", "test_ros_passes": "PASSED"}
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=4, xfailed=1)
    text = result.stdout.str()
    assert "was skipped where ROS is expected" in text and "could not import 'rclpy': libfoo.so missing" in text


def test_a_module_skipped_at_import_stops_the_run_where_ros_is_expected(session: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    session.makepyfile(test_module_skip=MODULE_SKIPPED)
    monkeypatch.setenv("CLICKENHANCE_STRICT_ROS_SKIPS", "yes")
    result = session.runpytest()
    assert result.ret != 0
    result.assert_outcomes(errors=1)  # a collection error: nothing runs
    assert "test module test_module_skip.py was skipped where ROS is expected" in result.stdout.str()
    assert "a_missing_ros_package" in result.stdout.str()
    monkeypatch.setenv("CLICKENHANCE_STRICT_ROS_SKIPS", "no")
    session.runpytest().assert_outcomes(passed=1, skipped=7, xfailed=1)  # the module counts as one skip


def test_the_explicit_switch_turns_it_off_and_on(session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("CLICKENHANCE_STRICT_ROS_SKIPS", "0")
    session.runpytest().assert_outcomes(passed=1, skipped=6, xfailed=1)
    monkeypatch.delenv("CI")
    monkeypatch.setenv("CLICKENHANCE_STRICT_ROS_SKIPS", "1")
    session.runpytest().assert_outcomes(passed=1, failed=1, errors=1, skipped=4, xfailed=1)


def test_without_ci_it_follows_whether_rclpy_is_installed(session: pytest.Pytester) -> None:
    import importlib.util

    result = session.runpytest()
    if importlib.util.find_spec("rclpy") is not None:
        result.assert_outcomes(passed=1, failed=1, errors=1, skipped=4, xfailed=1)
    else:  # a machine without the ROS wheels: ROS tests skip as before
        result.assert_outcomes(passed=1, skipped=6, xfailed=1)

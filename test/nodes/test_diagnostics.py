import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.nodes.diagnostics import RateMeter, diagnostic_array, event_status, status


def test_rate_meter_uses_stamps_over_its_window():
    meter = RateMeter(window_s=2.0)
    assert meter.rate_hz() == 0.0
    for i in range(51):  # 10 Hz for 5 s of data time, however fast it arrives
        meter.add(i * 100_000_000)
    assert meter.rate_hz() == pytest.approx(10.0)
    meter.add(5_000_000_000 + 1_000_000_000)  # a 1 s gap: the window now holds 2 s with fewer stamps
    assert meter.rate_hz() < 10.0


def test_status_keeps_order_and_formats_numbers():
    s = status("x", {"b": 1, "a": 0.123456, "c": "cpu"}, level=DiagnosticStatus.WARN, message="m")
    assert [(kv.key, kv.value) for kv in s.values] == [("b", "1"), ("a", "0.1235"), ("c", "cpu")]
    assert s.level == DiagnosticStatus.WARN and s.message == "m"
    array = diagnostic_array(1_500_000_000, [s])
    assert (array.header.stamp.sec, array.header.stamp.nanosec) == (1, 500_000_000)


@pytest.mark.parametrize(
    ("severity", "level"),
    [(Severity.INFO, DiagnosticStatus.OK), (Severity.WATCH, DiagnosticStatus.WARN),
     (Severity.CRITICAL, DiagnosticStatus.ERROR), (Severity.SEVERE, DiagnosticStatus.ERROR)],
)  # fmt: skip
def test_event_status(severity, level):
    event = Event(id="abc123", type="low_ttc", category=Category.DRIVING, severity=severity,
                  start=1_000_000_000, peak=1_500_000_000, end=2_000_000_000, detected=1_200_000_000,
                  object_ids=(4, 7), evidence=(("min_ttc_s", 1.25),), rule="ttc",
                  rule_version="1")  # fmt: skip
    s = event_status(event)
    values = {kv.key: kv.value for kv in s.values}
    assert s.level == level and s.name == "mmfusion event: low_ttc" and s.hardware_id == "abc123"
    assert values["peak_ns"] == "1500000000" and values["object_ids"] == "4,7"
    assert values["evidence.min_ttc_s"] == "1.25"
    assert "1.500 s" in s.message

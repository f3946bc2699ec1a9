"""Fixtures for node tests: an rclpy context on a DDS domain of its own, discovery kept on this host."""

import itertools
import os

import pytest
import rclpy

# Keep DDS discovery on this machine; set before any participant exists (read at creation).
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

_domains = itertools.count()


def unique_domain_id() -> int:
    """A domain per test and per pytest process, so parallel runs on one host do not hear each other."""
    return 120 + (os.getpid() * 13 + next(_domains)) % 100


@pytest.fixture
def domain_id() -> int:
    return unique_domain_id()


@pytest.fixture
def context(domain_id):
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    yield ctx
    rclpy.try_shutdown(context=ctx)

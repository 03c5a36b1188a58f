"""Tests of the Lambda wrapper's fail-closed checks (ctest fleet_lambda).

Runs the real arbiter-fleet (argv[1]) against hosts that do not exist, and
stand-in binaries that misbehave: every case must answer {"InstanceIDs": []}
unless the binary's answer is well-formed and within the event.
"""

import contextlib
import io
import json
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import termination_policy  # noqa: E402

EVENT = {
    "CapacityToTerminate": [{"AvailabilityZone": "z", "Capacity": 1}],
    "Instances": [{"AvailabilityZone": "z", "InstanceId": "i-a"},
                  {"AvailabilityZone": "z", "InstanceId": "i-b"}],
    "Cause": "SCALE_IN",
}
EMPTY = {"InstanceIDs": []}


class Context:
    def __init__(self, ms):
        self.ms = ms

    def get_remaining_time_in_millis(self):
        return self.ms


class WrapperTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.inventory = os.path.join(self.dir.name, "inventory.json")
        with open(self.inventory, "w") as f:
            # Port 1 on loopback: nothing listens there.
            json.dump({"hosts": [{"instance_id": "i-a", "writer": "127.0.0.1:1"}]}, f)
        os.environ["ARBITER_INVENTORY"] = self.inventory
        os.environ.pop("ARBITER_INVENTORY_JSON", None)
        os.environ["ARBITER_FLEET"] = FLEET

    def tearDown(self):
        self.dir.cleanup()

    def fake(self, script):
        path = os.path.join(self.dir.name, "fake-fleet")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + script + "\n")
        os.chmod(path, stat.S_IRWXU)
        os.environ["ARBITER_FLEET"] = path

    def run_real(self):
        """The handler with the real binary; returns (answer, what it logged)."""
        self.assertTrue(os.access(FLEET, os.X_OK), FLEET + " is not built")
        logged = io.StringIO()
        with contextlib.redirect_stderr(logged):
            answer = termination_policy.handler(EVENT, Context(5000))
        return answer, logged.getvalue()

    def test_real_binary_unreachable_hosts(self):
        answer, logged = self.run_real()
        self.assertEqual(answer, EMPTY)
        # The binary ran and kept both: one unreachable, one unknown.
        self.assertIn("i-a: no status", logged)
        self.assertIn("i-b: not in the inventory", logged)

    def test_real_binary_inventory_inline(self):
        del os.environ["ARBITER_INVENTORY"]
        os.environ["ARBITER_INVENTORY_JSON"] = json.dumps({"hosts": []})
        answer, logged = self.run_real()
        self.assertEqual(answer, EMPTY)
        self.assertIn("i-a: not in the inventory", logged)

    def test_no_inventory(self):
        del os.environ["ARBITER_INVENTORY"]
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)

    def test_well_formed_answer_passes(self):
        self.fake('cat >/dev/null; echo \'{"InstanceIDs":["i-b"]}\'')
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)),
                         {"InstanceIDs": ["i-b"]})

    def test_answer_outside_the_event_is_refused(self):
        self.fake('cat >/dev/null; echo \'{"InstanceIDs":["i-other"]}\'')
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)

    def test_answer_over_capacity_is_refused(self):
        self.fake('cat >/dev/null; echo \'{"InstanceIDs":["i-a","i-b"]}\'')
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)

    def test_garbage_crash_and_hang(self):
        self.fake("echo not json")
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)
        self.fake("kill -9 $$")
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)
        self.fake("sleep 30")
        self.assertEqual(termination_policy.handler(EVENT, Context(1000)), EMPTY)

    def test_missing_binary_and_no_time(self):
        os.environ["ARBITER_FLEET"] = os.path.join(self.dir.name, "missing")
        self.assertEqual(termination_policy.handler(EVENT, Context(5000)), EMPTY)
        self.assertEqual(termination_policy.handler(EVENT, Context(200)), EMPTY)


if __name__ == "__main__":
    FLEET = sys.argv.pop(1)
    unittest.main()

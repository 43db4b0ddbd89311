"""``manage.py qcluster`` processes, each in a session (process group) of its own.

django-q2's cluster is a parent with a sentinel, a pusher, a monitor and worker children: killing
the parent alone would leave its workers posting. A crash takes the whole machine, so ``kill`` sends
SIGKILL to the cluster's whole group, no matter what its workers were doing (a claim sent, a lease
held, concurrency slots taken): what the run then proves is that the rest of the system recovers.
"""

import os
import signal
import subprocess
import sys
import time


class Cluster:
    def __init__(self, name, root, env, log_path):
        self.name, self.root, self.env, self.log_path = name, root, env, log_path
        self.proc = None
        self.starts = 0

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        log = open(self.log_path, "a")
        log.write(f"\n--- {self.name}: start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n")
        log.flush()
        self.proc = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=self.root,
                                     env={**self.env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()  # the child holds its own descriptor
        self.starts += 1
        return self.proc.pid

    def kill(self):
        """SIGKILL the cluster and every process of its group, as a machine dying would."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def terminate(self):
        """SIGTERM to the cluster's parent, which stops its own processes in order (a running task finishes);
        ``stop`` SIGKILLs whatever of the group is left after the grace period."""
        if self.running:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, grace=20):
        """After ``terminate``: wait up to ``grace`` seconds, then SIGKILL what is left."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

"""A Python service instrumented with Debian's python3-prometheus-client, serving /metrics on
127.0.0.1:<argv[1]>. The client answers OpenMetrics 1.0 when asked through Accept (as Prometheus
and the sidecar ask), with `_created` samples and exemplars, and the text format 0.0.4
otherwise. The sidecar's e2e tests merge it; every value here is fixed once the app runs, so
the merged output can be compared exactly."""
import sys
import time

from prometheus_client import (REGISTRY, Counter, Enum, Gauge, Histogram, Info, Summary,
                               start_http_server)
from prometheus_client.core import GaugeMetricFamily

requests = Counter('sidecar_test_app_requests', 'Requests handled, by path.', ['path'])
requests.labels('/a').inc(3, exemplar={'trace_id': 'abc123'})
requests.labels('/b "quoted"\\path').inc(0.25)
latency = Histogram('sidecar_test_app_latency_seconds', 'Request latency.',
                    buckets=[0.005, 0.1, 1, 2.5])
latency.observe(0.05, exemplar={'trace_id': 'def456', 'span_id': '7'})
latency.observe(1.5)
work = Summary('sidecar_test_app_work_seconds', 'Time spent working.')
work.observe(2)
Gauge('sidecar_test_app_temperature_celsius', 'A gauge with a fraction.').set(-1.5e-3)
Gauge('sidecar_test_app_ratio', 'A gauge of NaN.').set(float('nan'))
Info('sidecar_test_app_build', 'Build information.').info({'version': '1.2.3',
                                                           'revision': 'abc'})
Enum('sidecar_test_app_state', 'Lifecycle state.', states=['starting', 'running']).state(
    'running')

STARTED = time.time()


class Timestamped:
    """A gauge with the app's own timestamp, which the merge keeps (in milliseconds)."""

    def collect(self):
        family = GaugeMetricFamily('sidecar_test_app_last_batch_rows', 'Rows in the last batch.',
                                   labels=['queue'])
        family.add_metric(['q1'], 42, timestamp=round(STARTED, 3))
        yield family


REGISTRY.register(Timestamped())
start_http_server(int(sys.argv[1]), addr='127.0.0.1')
while True:
    time.sleep(3600)

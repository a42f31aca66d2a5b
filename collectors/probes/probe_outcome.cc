#include "collectors/probes/probe_outcome.h"

#include <cmath>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {

void ProbeOutcome::Fail(std::string failure_reason, std::string failure_detail) {
  if (!success && !reason.empty()) return;
  success = false;
  reason = std::move(failure_reason);
  detail = std::move(failure_detail);
}

void AppendProbeFamilies(const ProbeOutcome& outcome, const std::string& collector,
                         std::vector<prometheus::MetricFamily>& families) {
  using prometheus::MetricType;
  const LabelPairs base = {{"collector", collector}};
  const auto gauge = [&](std::string name, std::string help, double value) {
    families.push_back(
        MetricFamilyBuilder(std::move(name), std::move(help), MetricType::Gauge, base)
            .Add(value)
            .Build());
  };
  gauge("probe_success", "Whether the probe of the main container succeeded (1) or not (0).",
        outcome.success ? 1 : 0);
  gauge("probe_duration_seconds", "How long the probe of the main container took, in seconds.",
        outcome.duration_seconds);
  gauge("probe_failed_due_to_regex",
        "Whether the probe failed because a configured regular expression matched or did not.",
        outcome.failed_due_to_regex ? 1 : 0);
  if (!outcome.success) {
    families.push_back(
        MetricFamilyBuilder("probe_failure_reason",
                            "Why the probe of the main container failed; absent while it succeeds.",
                            MetricType::Gauge, base)
            .Add(1, {{"reason", outcome.reason}})
            .Build());
  }
  if (outcome.tls) {
    if (outcome.tls->earliest_cert_expiry) {
      gauge("probe_ssl_earliest_cert_expiry",
            "Earliest notAfter of the certificates the main container presented, in Unix seconds.",
            static_cast<double>(*outcome.tls->earliest_cert_expiry));
    }
    if (!outcome.tls->version.empty()) {
      families.push_back(MetricFamilyBuilder("probe_tls_version_info",
                                             "The TLS version the probe negotiated; always 1.",
                                             MetricType::Gauge, base)
                             .Add(1, {{"version", outcome.tls->version}})
                             .Build());
    }
  }
}

void ProbeHistory::Record(const ProbeOutcome& outcome) {
  std::lock_guard lock(mutex_);
  last_ = outcome;
}

std::string ProbeHistory::Describe(const std::string& target) const {
  std::lock_guard lock(mutex_);
  if (!last_) return target + ": not probed yet";
  if (last_->success) {
    return target + ": ok in " + std::to_string(std::lround(last_->duration_seconds * 1000)) +
           " ms";
  }
  return target + ": failing: " + last_->reason + " (" + last_->detail + ")";
}

}  // namespace sidecar

#include "collectors/http/status_page_collector.h"

#include <algorithm>
#include <utility>

namespace sidecar {

StatusPageOptions DecodeStatusPageOptions(FieldDecoder& fields, const CollectorDefaults& defaults,
                                          std::string default_url,
                                          std::size_t default_max_body_bytes) {
  StatusPageOptions options;
  options.url = fields.Url("url", std::move(default_url));
  options.unix_socket = fields.OptionalString("unix_socket");
  options.timeout = fields.Duration("timeout", defaults.timeout);
  options.max_body_bytes =
      fields.Unsigned("max_response_bytes", default_max_body_bytes, 256, 16 << 20);
  options.labels = fields.StringMap("labels", /*label_names=*/true);
  return options;
}

StatusPageCollector::StatusPageCollector(std::unique_ptr<Fetcher> fetcher,
                                         StatusPageSettings settings)
    : fetcher_(std::move(fetcher)), settings_(std::move(settings)) {}

std::string StatusPageCollector::Summary() const { return fetcher_->Describe(); }

CollectResult StatusPageCollector::Collect(const CollectContext& context) {
  FetchLimits limits;
  limits.deadline =
      std::min(context.deadline, std::chrono::steady_clock::now() + settings_.timeout);
  limits.max_body_bytes = settings_.max_body_bytes;
  limits.stop = context.stop;
  FetchedDocument document = fetcher_->Fetch(limits, std::move(spare_body_));

  CollectResult result;
  if (!document.ok()) {
    result.error = fetcher_->Describe() + ": " + document.error;
  } else if (std::optional<std::string> parse_error = ExportResult(document, result)) {
    result.error = fetcher_->Describe() + ": " + *parse_error;
    result.families.clear();
    result.merged.clear();
  }
  // Kept for the next fetch unless it has grown far past what the source sends now: a source that
  // once sent megabytes does not pin them for good.
  if (document.body.capacity() <= 2 * document.body.size() + 64 * 1024) {
    spare_body_ = std::move(document.body);
  } else {
    spare_body_ = std::string();
  }
  if (!settings_.up_name.empty()) {
    result.families.insert(result.families.begin(),
                           MetricFamilyBuilder(settings_.up_name, settings_.up_help,
                                               prometheus::MetricType::Gauge, settings_.labels)
                               .Add(result.error ? 0 : 1)
                               .Build());
  }
  return result;
}

}  // namespace sidecar

#include "collectors/core/merged_family.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace sidecar {

std::span<const std::string_view> ExposedSuffixes(prometheus::MetricType type) {
  static constexpr std::string_view kSuffixes[] = {"", "_sum", "_count", "_bucket"};
  switch (type) {
    case prometheus::MetricType::Histogram:
      return {kSuffixes, 4};
    case prometheus::MetricType::Summary:
      return {kSuffixes, 3};
    default:
      return {kSuffixes, 1};
  }
}

bool HasLabel(std::string_view labels, std::string_view name) {
  // Walks name="value" pairs; values may hold escaped quotes, so they are skipped, not searched.
  std::size_t pos = 0;
  while (pos < labels.size()) {
    const std::size_t equals = labels.find('=', pos);
    if (equals == std::string_view::npos) return false;
    if (labels.substr(pos, equals - pos) == name) return true;
    pos = equals + 2;  // past ="
    while (pos < labels.size() && labels[pos] != '"') pos += labels[pos] == '\\' ? 2 : 1;
    pos += 2;  // past ",
  }
  return false;
}

void AppendValue(double value, std::string& out) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (std::abs(value) < 9007199254740992.0 && value == std::trunc(value) &&
             static_cast<std::int64_t>(value) % 10 != 0) {
    // Counts: the shortest form of an integer without trailing zeros is the integer itself
    // (scientific notation would be longer), and writing it as one is much cheaper.
    char buffer[24];
    const auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
    out.append(buffer, static_cast<std::size_t>(
                           end - buffer));  // (pointer, size): (first, last) takes a slow path
  } else {
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, static_cast<std::size_t>(end - buffer));
  }
}

void AppendEscapedLabelValue(std::string_view value, std::string& out) {
  // The runs between characters to escape are appended whole: most values have none.
  std::size_t plain = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(value.data() + plain, i - plain);
    out += '\\';
    out += c == '\n' ? 'n' : c;
    plain = i + 1;
  }
  out.append(value.data() + plain, value.size() - plain);
}

void AppendSamples(const MergedFamily& family, const LabelPairs& extra_labels, std::string& out) {
  if (extra_labels.empty()) {
    out += family.text;
    return;
  }
  // Each line is copied up to the end of its label pairs, the labels it lacks are put in, then
  // the rest of the line.
  const std::string_view text = family.text;
  for (std::size_t i = 0; i < family.samples.size(); ++i) {
    const MergedSample& sample = family.samples[i];
    const std::size_t line_end =
        i + 1 < family.samples.size() ? family.samples[i + 1].line_offset : text.size();
    const std::size_t labels_end = sample.labels_offset + sample.labels_size;
    out.append(text.data() + sample.line_offset, labels_end - sample.line_offset);
    const std::string_view labels = family.SampleLabels(sample);
    bool open = !labels.empty();
    for (const auto& [name, value] : extra_labels) {
      if (HasLabel(labels, name)) continue;
      out += open ? ',' : '{';
      open = true;
      out += name;
      out += "=\"";
      AppendEscapedLabelValue(value, out);
      out += '"';
    }
    // Without labels of its own the line had no braces: close the ones opened here.
    if (open && labels.empty()) out += '}';
    out.append(text.data() + labels_end, line_end - labels_end);
  }
}

}  // namespace sidecar

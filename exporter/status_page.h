#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "exporter/collector_runner.h"

namespace sidecar {

struct StatusPageData {
  std::string version;
  std::string revision;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point now;
  std::string config_file;
  bool last_reload_successful = true;
  std::string last_reload_error;
  std::string telemetry_path;
  std::string health;     // "ok" or why /healthz fails
  std::string readiness;  // "ready" or why /readyz fails
  std::vector<CollectorState> collectors;
};

// The HTML page served at "/" for a person on `kubectl port-forward`. Self-contained (no
// scripts, no external assets) and escaped, since error texts come from the main container.
std::string RenderStatusPage(const StatusPageData& data);

// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace sidecar

#pragma once

#include <string>
#include <string_view>

#include "exporter/status_report.h"

namespace sidecar {

// The three faces of the status report, one per audience:
//
// RenderStatusPage: the HTML page served at "/" for a person on `kubectl port-forward`.
// Self-contained (no script, no external asset: charts are inline SVG drawn here), refreshes
// itself every `refresh_seconds` (0: not at all), escaped, since label values and error texts
// come from the main container's logs and status pages.
std::string RenderStatusPage(const StatusReport& report, int refresh_seconds);

// RenderStatusJson: /api/v1/status. Field names are stable (documented in the README); rates
// and shares with no traffic are null.
std::string RenderStatusJson(const StatusReport& report);

// RenderStatusText: "/" with `Accept: text/plain`, a one-screen summary for a terminal.
std::string RenderStatusText(const StatusReport& report);

// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

// Which face an Accept header asks for: text when it names text/plain before text/html (or
// without it), HTML otherwise (browsers send text/html first).
bool PrefersPlainText(std::string_view accept);

}  // namespace sidecar

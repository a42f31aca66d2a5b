#include "collectors/http/json_path.h"

#include <charconv>

namespace sidecar {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == ':' || c == '@' || c == '$' || c == '/';
}

}  // namespace

std::optional<JsonPath> JsonPath::Parse(std::string_view text, std::string& error,
                                        std::size_t& error_offset) {
  JsonPath path;
  path.text_ = std::string(text);
  std::size_t pos = 0;
  const auto fail = [&](std::size_t at, std::string message) {
    error = std::move(message);
    error_offset = at;
    return std::nullopt;
  };
  // "a.b" reads as "$.a.b".
  bool implicit_dot = false;
  if (!text.empty() && (text[0] == '$' || text[0] == '@')) {
    path.relative_ = text[0] == '@';
    ++pos;
  } else if (!text.empty() && text[0] != '.' && text[0] != '[') {
    implicit_dot = true;
  }
  while (pos != text.size()) {
    Step step{Step::Kind::kKey, {}, 0};
    if (implicit_dot || text[pos] == '.') {
      if (!implicit_dot) ++pos;
      implicit_dot = false;
      if (pos < text.size() && text[pos] == '*') {
        step.kind = Step::Kind::kWildcard;
        ++pos;
      } else if (pos < text.size() && text[pos] == '[') {
        return fail(pos, "expected a key after '.'");
      } else {
        const std::size_t start = pos;
        while (pos < text.size() && IsKeyChar(text[pos])) ++pos;
        if (pos == start) {
          return fail(pos, pos < text.size() ? "'" + std::string(1, text[pos]) +
                                                   "' in a key; quote the key: [\"...\"]"
                                             : "expected a key after '.'");
        }
        step.key = std::string(text.substr(start, pos - start));
      }
    } else if (text[pos] == '[') {
      ++pos;
      if (pos < text.size() && text[pos] == '*') {
        step.kind = Step::Kind::kWildcard;
        ++pos;
      } else if (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) {
        const char quote = text[pos++];
        while (pos < text.size() && text[pos] != quote) {
          if (text[pos] == '\\') {
            if (pos + 1 >= text.size() || (text[pos + 1] != quote && text[pos + 1] != '\\')) {
              return fail(pos, "invalid escape in a quoted key (only \\\\ and \\" +
                                   std::string(1, quote) + ")");
            }
            ++pos;
          }
          step.key += text[pos++];
        }
        if (pos >= text.size()) return fail(pos, "unterminated quoted key");
        ++pos;
      } else {
        const auto [end, ec] =
            std::from_chars(text.data() + pos, text.data() + text.size(), step.index);
        if (ec != std::errc() || end == text.data() + pos) {
          return fail(pos, "expected an index, * or a quoted key after '['");
        }
        step.kind = Step::Kind::kIndex;
        pos = static_cast<std::size_t>(end - text.data());
      }
      if (pos >= text.size() || text[pos] != ']') return fail(pos, "expected ']'");
      ++pos;
    } else {
      return fail(pos, "unexpected '" + std::string(1, text[pos]) +
                           "'; expected '.' or '[' (quote keys with other characters: [\"...\"])");
    }
    if (step.kind == Step::Kind::kWildcard) ++path.wildcards_;
    path.steps_.push_back(std::move(step));
  }
  return path;
}

void JsonPath::Evaluate(simdjson::dom::element root, const Visitor& visit) const {
  std::vector<Binding> bindings;
  Walk(root, 0, bindings, visit);
}

std::optional<simdjson::dom::element> JsonPath::Find(simdjson::dom::element root) const {
  std::optional<simdjson::dom::element> found;
  Evaluate(root, [&](simdjson::dom::element value, const std::vector<Binding>&) {
    if (!found) found = value;
  });
  return found;
}

void JsonPath::Walk(simdjson::dom::element element, std::size_t step,
                    std::vector<Binding>& bindings, const Visitor& visit) const {
  if (step == steps_.size()) {
    visit(element, bindings);
    return;
  }
  const Step& current = steps_[step];
  switch (current.kind) {
    case Step::Kind::kKey: {
      simdjson::dom::object object;
      simdjson::dom::element child;
      if (element.get_object().get(object) == simdjson::SUCCESS &&
          object.at_key(current.key).get(child) == simdjson::SUCCESS) {
        Walk(child, step + 1, bindings, visit);
      }
      return;
    }
    case Step::Kind::kIndex: {
      simdjson::dom::array array;
      simdjson::dom::element child;
      if (element.get_array().get(array) == simdjson::SUCCESS &&
          array.at(current.index).get(child) == simdjson::SUCCESS) {
        Walk(child, step + 1, bindings, visit);
      }
      return;
    }
    case Step::Kind::kWildcard: {
      simdjson::dom::object object;
      simdjson::dom::array array;
      if (element.get_object().get(object) == simdjson::SUCCESS) {
        for (const auto field : object) {
          bindings.push_back({std::string(field.key), field.value});
          Walk(field.value, step + 1, bindings, visit);
          bindings.pop_back();
        }
      } else if (element.get_array().get(array) == simdjson::SUCCESS) {
        std::size_t index = 0;
        for (const simdjson::dom::element item : array) {
          bindings.push_back({std::to_string(index++), item});
          Walk(item, step + 1, bindings, visit);
          bindings.pop_back();
        }
      }
      return;
    }
  }
}

}  // namespace sidecar

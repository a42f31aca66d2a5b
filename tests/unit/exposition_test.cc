#include "exporter/exposition.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <future>
#include <random>
#include <stdexcept>
#include <thread>

#include "collectors/core/family_set.h"
#include "collectors/core/metric_family_builder.h"
#include "exporter/http_server.h"
#include "exporter/metric_families.h"

namespace sidecar {
namespace {

std::string Gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(data.size() * 20 + 1024, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(inflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST_CASE("families of the same name from several collectors merge into one", "[exposition]") {
  using prometheus::MetricType;
  FamilySet families;
  families.AddAll({MetricFamilyBuilder("x_total", "X.", MetricType::Counter)
                       .Add(1, {{"collector", "a"}})
                       .Build()});
  families.AddAll({MetricFamilyBuilder("x_total", "X.", MetricType::Counter)
                       .Add(2, {{"collector", "b"}})
                       .Build(),
                   MetricFamilyBuilder("y", "Y.", MetricType::Gauge).Add(3).Build()});
  families.AddConstLabels({{"cluster", "eu"}, {"collector", "ignored"}});
  const std::string text = SerializeText(std::move(families).Take());
  CHECK(text ==
        "# HELP x_total X.\n"
        "# TYPE x_total counter\n"
        "x_total{collector=\"a\",cluster=\"eu\"} 1\n"
        "x_total{collector=\"b\",cluster=\"eu\"} 2\n"
        "# HELP y Y.\n"
        "# TYPE y gauge\n"
        "y{cluster=\"eu\",collector=\"ignored\"} 3\n");
}

TEST_CASE("a merged family may not expose a name the exporter's own families expose",
          "[exposition]") {
  using prometheus::MetricType;
  const std::vector<prometheus::MetricFamily> own = {
      MetricFamilyBuilder("own_seconds", "", MetricType::Histogram).Build(),
      MetricFamilyBuilder("own_rpc_sum", "", MetricType::Gauge).Build()};
  MergedFamilySet set(own);
  std::deque<MergedFamily> families;  // the set keeps pointers to them
  const auto add = [&](const char* name, MetricType type) {
    families.push_back(MergedFamily{name, type, "", "", {}, nullptr});
    return set.Add(families.back());
  };
  using Outcome = MergedFamilySet::Outcome;
  // A histogram's own name, _bucket, _sum and _count are all taken.
  CHECK(add("own_seconds", MetricType::Gauge) == Outcome::kNameClash);
  CHECK(add("own_seconds_bucket", MetricType::Untyped) == Outcome::kNameClash);
  CHECK(add("own_seconds_sum", MetricType::Gauge) == Outcome::kNameClash);
  CHECK(add("own_seconds_count", MetricType::Counter) == Outcome::kNameClash);
  // A summary would write own_rpc_sum; a gauge named own_rpc writes only its name.
  CHECK(add("own_rpc", MetricType::Summary) == Outcome::kNameClash);
  CHECK(add("own_rpc", MetricType::Gauge) == Outcome::kAdded);
  CHECK(add("own_rpc", MetricType::Counter) == Outcome::kTypeClash);
  CHECK(add("sidecar_exporter_x", MetricType::Gauge) == Outcome::kNameClash);
  CHECK(set.groups().size() == 1);
}

TEST_CASE("label values are escaped and no timestamps are written", "[exposition]") {
  using prometheus::MetricType;
  const std::string text = SerializeText(
      {MetricFamilyBuilder("z", "Z.", MetricType::Gauge).Add(1, {{"v", "a\"b\\c\nd"}}).Build()});
  CHECK(text == "# HELP z Z.\n# TYPE z gauge\nz{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("Accept-Encoding negotiation honours q=0", "[exposition]") {
  CHECK(AcceptsGzip("gzip"));
  CHECK(AcceptsGzip("deflate, GZIP;q=0.5"));
  CHECK(AcceptsGzip("*"));
  CHECK_FALSE(AcceptsGzip(""));
  CHECK_FALSE(AcceptsGzip("identity"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(AcceptsGzip("x-gzip-not"));
}

TEST_CASE("gzip output round-trips", "[exposition]") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "metric_" + std::to_string(i) + " 1\n";
  const std::string compressed = Gzip(text);
  CHECK(compressed.size() < text.size() / 3);
  // Only what it needs is kept while the exposition is served.
  CHECK(compressed.capacity() < text.size() / 3);
  CHECK(Gunzip(compressed) == text);
  // Input that does not compress makes the output grow past its first guess, several times.
  std::mt19937_64 random(3);
  std::string noise(1 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  CHECK(Gunzip(Gzip(noise)) == noise);
  CHECK(Gunzip(Gzip("")).empty());
}

}  // namespace
}  // namespace sidecar

namespace sidecar {
namespace {

// Where a string's characters are (Catch would compare const char* as C strings).
std::uintptr_t Address(const std::string& text) {
  return reinterpret_cast<std::uintptr_t>(text.data());
}

TEST_CASE("exposition buffers are reused from one scrape to the next", "[exposition]") {
  // No waiting for a buffer out in this case: a new one is allocated at once.
  ExpositionBuffers buffers(std::chrono::milliseconds(0));
  const auto now = [] { return std::chrono::steady_clock::now(); };
  const auto scrape = [&](char fill) {
    std::string text = buffers.Take(now());
    text.assign(1 << 20, fill);
    return text;
  };
  buffers.Give(scrape('a'));  // the first scrape tells the size
  std::string second = scrape('b');
  const std::uintptr_t memory = Address(second);
  buffers.Give(std::move(second));
  // The next scrape writes into the same memory.
  std::string third = buffers.Take(now());
  CHECK(third.empty());
  CHECK(Address(third) == memory);
  // Two at once (a scrape while the previous answer is still being sent to a slow reader, past
  // the release wait): one is kept.
  third.assign(1 << 20, 'c');
  std::string fourth = scrape('d');
  CHECK(buffers.Out() == 2);
  const std::uintptr_t other = Address(fourth);
  CHECK(other != memory);
  buffers.Give(std::move(fourth));
  buffers.Give(std::move(third));
  CHECK(buffers.Out() == 0);
  std::string fifth = buffers.Take(now());
  CHECK((Address(fifth) == memory || Address(fifth) == other));
  buffers.Give(std::move(fifth));
  // One far bigger than the exposition needs is let go.
  std::string kept = buffers.Take(now());
  std::string huge = buffers.Take(now());
  huge.reserve(64 << 20);
  huge.assign(1 << 20, 'h');
  const std::uintptr_t huge_memory = Address(huge);
  buffers.Give(std::move(huge));
  CHECK(Address(buffers.Take(now())) != huge_memory);
}

TEST_CASE("a scrape waits for the exposition being sent instead of taking more memory",
          "[exposition]") {
  // Long enough never to run out in this test: the buffer comes back first.
  ExpositionBuffers buffers(std::chrono::hours(1));
  const auto forever = std::chrono::steady_clock::now() + std::chrono::hours(1);
  std::string warm_up = buffers.Take(forever);
  warm_up.assign(1 << 20, 'w');
  buffers.Give(std::move(warm_up));  // tells the size
  std::string first = buffers.Take(forever);
  first.assign(1 << 20, 'a');
  const std::uintptr_t memory = Address(first);
  // The next scrape finds the only buffer out (being sent) and no spare: it waits for it.
  auto second = std::async(std::launch::async, [&] { return buffers.Take(forever); });
  while (buffers.Waiting() == 0) std::this_thread::yield();
  CHECK(second.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  buffers.Give(std::move(first));
  const std::string taken = second.get();
  CHECK(taken.empty());
  CHECK(Address(taken) == memory);
  CHECK(buffers.Out() == 1);

  // Its own deadline bounds the wait: past it, a new buffer (a scraper with a short timeout
  // that joined a longer build builds its own, see App::ServeMetrics).
  const std::string late = buffers.Take(std::chrono::steady_clock::now());
  CHECK(Address(late) != memory);
  CHECK(buffers.Out() == 2);
}

TEST_CASE("a gzip encoding is written into the last one's memory", "[exposition]") {
  auto buffers = std::make_shared<ExpositionBuffers>(std::chrono::milliseconds(0));
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "metric_" + std::to_string(i) + " 1\n";
  const auto write = [&](std::string& out) { out = text; };
  const auto now = std::chrono::steady_clock::now();
  auto first = Exposition::Write(buffers, now, write);
  const std::string& gzipped = first->gzipped();
  CHECK(Gunzip(gzipped) == text);
  const std::uintptr_t memory = Address(gzipped);
  first.reset();
  auto second = Exposition::Write(buffers, now, write);
  CHECK(Address(second->gzipped()) == memory);
  CHECK(Gunzip(second->gzipped()) == text);
  // Asked for again, the encoding is not made again.
  CHECK(&second->gzipped() == &second->gzipped());
}

TEST_CASE("an exposition gives its buffer back even when writing it fails", "[exposition]") {
  auto buffers = std::make_shared<ExpositionBuffers>(std::chrono::milliseconds(0));
  const auto now = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(Exposition::Write(buffers, now,
                                    [](std::string& text) {
                                      text = "partial";
                                      throw std::runtime_error("collector failed");
                                    }),
                  std::runtime_error);
  CHECK(buffers->Out() == 0);
  auto exposition = Exposition::Write(buffers, now, [](std::string& text) { text = "x 1\n"; });
  CHECK(exposition->text() == "x 1\n");
  CHECK(buffers->Out() == 1);
  exposition.reset();
  CHECK(buffers->Out() == 0);
}

}  // namespace
}  // namespace sidecar

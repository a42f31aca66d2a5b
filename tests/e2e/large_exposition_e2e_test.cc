// The exporter serving a large exposition (an access log at its 2,000-series limit with method,
// status and path labels: ~32k samples, ~4 MB) many times, one scraper and several at once:
// resident memory must not follow the number of scrapes (issue 12 saw 13 MB grow to 70-128 MB).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/peers.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

// The read offset of the exporter's descriptor of `file` (0 while it has none).
long ReadOffset(int pid, const std::filesystem::path& file) {
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code error;
  for (const auto& fd : std::filesystem::directory_iterator(fds, error)) {
    if (std::filesystem::read_symlink(fd.path(), error) != file) continue;
    std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" + fd.path().filename().string());
    std::string key;
    long offset = 0;
    info >> key >> offset;  // "pos:	<offset>" is the first line
    return offset;
  }
  return 0;
}

// An access log at the 2,000-series guard with method, status and path labels, read whole by an
// exporter that has not been scraped yet.
class LargeExposition {
 public:
  LargeExposition() : log_(dir_ / "access.log") {
    {
      std::ofstream out(log_);
      const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
      const char* statuses[] = {"200", "201", "304", "404", "500"};
      for (int i = 0; i < 2000; ++i) {
        for (int copy = 0; copy < 2; ++copy) {
          out << "127.0.0.1 - - [29/Nov/2026:10:00:00 +0000] \"" << methods[i % 4]
              << " /api/v1/resources/" << i / 20 << "/items HTTP/1.1\" " << statuses[(i / 4) % 5]
              << " " << (i * 37 + copy) % 100000 << " \"-\" \"e2e\" 0." << (i * 7 + copy) % 1000
              << "\n";
        }
      }
    }
    exporter_ = std::make_unique<ExporterProcess>(
        "collectors:\n  - type: access_log\n    name: web\n    paths: ['" + log_.string() +
        "']\n    format: nginx\n    log_format: '$remote_addr - $remote_user [$time_local] "
        "\"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" "
        "$request_time'\n    labels: [method, status, path]\n    from_beginning: true\n");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ReadOffset(pid(), log_) < static_cast<long>(std::filesystem::file_size(log_)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  int pid() { return exporter_->process().pid(); }

  // One scrape of /metrics, asking for gzip or not.
  HttpResult Scrape(bool gzip) {
    return HttpGet(
        exporter_->url("/metrics"),
        gzip ? std::vector<std::string>{"Accept-Encoding: gzip"} : std::vector<std::string>{});
  }

  // Resident memory before any scrape, and the first scrape's exposition.
  struct FirstScrape {
    long idle_kib = 0;
    std::string body;
    long exposition_kib = 0;
    // Issue 12's bound on resident memory: idle + 2 expositions.
    long bound_kib() const { return idle_kib + 2 * exposition_kib; }
  };
  FirstScrape ScrapeFirst() {
    FirstScrape first;
    first.idle_kib = ProcStatusKib(pid(), "VmRSS");
    HttpResult result = Scrape(false);
    REQUIRE(result.status == 200);
    first.body = std::move(result.body);
    first.exposition_kib = static_cast<long>(first.body.size() / 1024);
    // The case of issue 12: megabytes of text.
    REQUIRE(first.exposition_kib > 3000);
    return first;
  }

 private:
  TempDir dir_;
  std::filesystem::path log_;
  std::unique_ptr<ExporterProcess> exporter_;
};

TEST_CASE("resident memory stays bounded over many scrapes of a large exposition",
          "[e2e][exposition]") {
  LargeExposition large;
  const int pid = large.pid();
  const LargeExposition::FirstScrape first = large.ScrapeFirst();
  // 2,000 label sets, 16 samples each.
  REQUIRE(ParseMetrics(first.body).size() > 32000);
  // Written by the exporter's own text writer (exporter/text_writer.h), not by TextSerializer.
  const PromtoolCheck check = CheckWithPromtool(first.body);
  INFO(check.output);
  CHECK(check.ok());
  CHECK(check.unexpected_findings.empty());

  std::atomic<int> failed{0};  // counted here: Catch's assertions are not for other threads
  const auto scrape = [&](int times, bool gzip) {
    for (int i = 0; i < times; ++i) {
      if (large.Scrape(gzip).status != 200) ++failed;
    }
  };
  const auto round = [&](bool gzip) {
    scrape(10, gzip);
    std::vector<std::thread> scrapers;
    for (int i = 0; i < 4; ++i) scrapers.emplace_back(scrape, 5, gzip != (i % 2 == 1));
    for (auto& scraper : scrapers) scraper.join();
  };
  // Warm up with both shapes, one scraper and several, then the same again three times.
  scrape(10, false);
  round(false);
  const long warm_kib = ProcStatusKib(pid, "VmRSS");
  for (int i = 0; i < 3; ++i) round(i == 1);
  const long after_kib = ProcStatusKib(pid, "VmRSS");
  CHECK(failed == 0);
  INFO("idle " << first.idle_kib << " KiB, exposition " << first.exposition_kib
               << " KiB, after 40 scrapes " << warm_kib << " KiB, after 130 " << after_kib
               << " KiB");
  // Before issue 12's fixes, every worker thread's arena kept its own high-water mark: 70-200 MB
  // here (idle + 15-45 expositions). Now one exposition is resident at a time (the spare buffer,
  // between scrapes) and what the allocator keeps of a scrape's families and of gzip's state
  // fits in the second.
  if (ExporterIsSanitized()) {
    // Under a sanitizer the exporter's malloc is the sanitizer's: AddressSanitizer keeps freed
    // memory in a quarantine of up to 256 MB, so resident memory measures that, not the exporter.
    // The bound is checked with the ordinary build; here the scrapes above still run and are
    // checked.
    WARN("resident-memory bound not checked under a sanitizer (its allocator's quarantine)");
  } else {
    CHECK(after_kib <= first.bound_kib());
  }
}

TEST_CASE("peak resident memory stays within idle + 2 expositions with 8 and 16 scrapers",
          "[e2e][exposition]") {
  LargeExposition large;
  const int pid = large.pid();
  // Issue 12's bound, for the peak, not only for what is left after the scrapes.
  const LargeExposition::FirstScrape first = large.ScrapeFirst();

  for (const int scrapers : {8, 16}) {
    // Every scraper starts its next scrape as soon as it has the last one: scrapes arrive while
    // an exposition is being gathered, while one is being written and while one is being sent.
    // Half of them ask for gzip.
    constexpr int kScrapesEach = 6;
    REQUIRE(ResetPeakRss(pid));
    std::atomic<int> answered{0};
    std::atomic<int> gzipped{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < scrapers; ++i) {
      threads.emplace_back([&, gzip = i % 2 == 1] {
        for (int k = 0; k < kScrapesEach; ++k) {
          HttpResult result = large.Scrape(gzip);
          if (result.status == 200 && result.body.size() > 100 * 1024) ++answered;
          if (result.headers["content-encoding"] == "gzip") ++gzipped;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    const long peak_kib = ProcStatusKib(pid, "VmHWM");
    INFO(scrapers << " scrapers: idle " << first.idle_kib << " KiB, exposition "
                  << first.exposition_kib << " KiB, peak " << peak_kib << " KiB, bound "
                  << first.bound_kib() << " KiB");
    CHECK(answered == scrapers * kScrapesEach);
    CHECK(gzipped == scrapers / 2 * kScrapesEach);
    if (ExporterIsSanitized()) {
      WARN(
          "peak resident-memory bound not checked under a sanitizer (its allocator's "
          "quarantine)");
    } else {
      CHECK(peak_kib <= first.bound_kib());
    }
  }
}

}  // namespace
}  // namespace sidecar::testing

// Throughput of the CSV record chunker on the producer thread's diet: 100 MB of CSV shaped like
// the NYC yellow-taxi month (18 columns, ~90-byte rows, no quotes; test/fixtures/gen_taxi.py),
// fed the way HttpSource hands out inflated bytes, cut into 4 MiB chunks that are moved out and
// dropped. Variants: the same rows with every text field quoted and a quoted line break in one
// row of 100 (the slow path), and plain memcpy into 4 MiB buffers (the floor of copying once).
//
// Run: build/chunker_bench [--benchmark_repetitions=5]. bytes_per_second is in binary units
// (1G/s = 1 GiB/s = 1074 MB/s); rates are per CPU second, so a busy machine still measures.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/csv_chunker.hpp"
#include "taxi_csv.hpp"

namespace {

using pgpipe::core::CsvChunk;
using pgpipe::core::CsvChunker;
using pgpipe::core::CsvDialect;
using pgpipe::bench::TaxiCsv;
using pgpipe::bench::TaxiShape;

constexpr size_t kTarget = 4 << 20;
constexpr size_t kBytes = 100 * 1000 * 1000;

const std::string& Plain() {
  static const std::string csv = TaxiCsv(kBytes);
  return csv;
}

const std::string& Quoted() {
  static const std::string csv = TaxiCsv(kBytes, TaxiShape{true, 0});
  return csv;
}

// Chunks all of csv, fed `feed` bytes at a time, header on, target 4 MiB; each chunk is moved
// out and dropped, as the producer hands it to a worker.
void RunChunker(benchmark::State& state, const std::string& csv, CsvDialect dialect) {
  const size_t feed = static_cast<size_t>(state.range(0));
  int64_t chunks = 0;
  int64_t records = 0;
  for (auto _ : state) {
    CsvChunker chunker(dialect, kTarget, true);
    std::vector<CsvChunk> out;
    for (size_t i = 0; i < csv.size(); i += feed) {
      chunker.Feed(csv.data() + i, std::min(feed, csv.size() - i), &out);
      for (CsvChunk& c : out) benchmark::DoNotOptimize(c.bytes.data());
      chunks += static_cast<int64_t>(out.size());
      out.clear();
    }
    chunker.Finish(&out);
    chunks += static_cast<int64_t>(out.size());
    records = chunker.Records();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(csv.size()));
  state.counters["chunks"] = static_cast<double>(chunks) / static_cast<double>(state.iterations());
  state.counters["records"] = static_cast<double>(records);
}

// Taxi rows, no quotes: the case that matters.
void BM_ChunkTaxi(benchmark::State& state) { RunChunker(state, Plain(), CsvDialect{}); }

// The same rows fed from a 256 KiB buffer that stays in cache, as inflated bytes arrive from
// zlib (the 100 MB input above comes from memory): 400 feeds of the same whole rows.
void BM_ChunkTaxiHotInput(benchmark::State& state) {
  const std::string& csv = Plain();
  const size_t header_end = csv.find('\n') + 1;
  const std::string piece =
      csv.substr(header_end, csv.rfind('\n', header_end + (256 << 10)) + 1 - header_end);
  const int feeds = 400;
  int64_t chunks = 0;
  for (auto _ : state) {
    CsvChunker chunker(CsvDialect{}, kTarget, true);
    std::vector<CsvChunk> out;
    chunker.Feed(csv.data(), header_end, &out);
    for (int i = 0; i < feeds; ++i) {
      chunker.Feed(piece.data(), piece.size(), &out);
      for (CsvChunk& c : out) benchmark::DoNotOptimize(c.bytes.data());
      chunks += static_cast<int64_t>(out.size());
      out.clear();
    }
    chunker.Finish(&out);
    chunks += static_cast<int64_t>(out.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * feeds *
                          static_cast<int64_t>(piece.size()));
  state.counters["chunks"] = static_cast<double>(chunks) / static_cast<double>(state.iterations());
}

// Every text field quoted, a quoted line break every hundred rows.
void BM_ChunkTaxiQuoted(benchmark::State& state) { RunChunker(state, Quoted(), CsvDialect{}); }

// The same with backslash escapes (escape distinct from the quote).
void BM_ChunkTaxiQuotedBackslash(benchmark::State& state) {
  CsvDialect d;
  d.escape = '\\';
  RunChunker(state, Quoted(), d);
}

// The floor: the same bytes memcpy'd once into fresh 4 MiB buffers, no scan.
void BM_MemcpyFloor(benchmark::State& state) {
  const std::string& csv = Plain();
  const size_t feed = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    std::string chunk;
    chunk.reserve(kTarget + (64 << 10));
    for (size_t i = 0; i < csv.size(); i += feed) {
      chunk.append(csv.data() + i, std::min(feed, csv.size() - i));
      if (chunk.size() >= kTarget) {
        std::string done = std::move(chunk);
        benchmark::DoNotOptimize(done.data());
        chunk = std::string();
        chunk.reserve(kTarget + (64 << 10));
      }
    }
    benchmark::DoNotOptimize(chunk.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(csv.size()));
}

// Feeds of 64 KiB (COPY's own read size) and 256 KiB (HttpSource's queue chunks).
BENCHMARK(BM_ChunkTaxi)->Arg(64 << 10)->Arg(256 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkTaxiHotInput)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkTaxiQuoted)->Arg(256 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkTaxiQuotedBackslash)->Arg(256 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemcpyFloor)->Arg(256 << 10)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

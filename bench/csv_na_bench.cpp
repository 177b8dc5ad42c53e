// Throughput of the NA rewriter (core/csv_na.hpp) on the COPY callback's diet: 100 MB of CSV
// shaped like the NYC yellow-taxi month (bench/taxi_csv.hpp), fed 64 KiB at a time (COPY's own
// read size) with pandas' default NA values, against the two floors it sits between: a plain
// memcpy of the same bytes in the same pieces, and the record chunker (core/csv_chunker.hpp)
// on the same bytes.
//
// Variants: the rewriter into a separate buffer; in place as the callback would run it (the
// source's bytes copied into buf + MaxCarry(), rewritten into buf: a memcpy and a rewrite); rows
// with NA values (every tenth row has three: NA, nan, and N/A or, quoted, "NULL"); every text
// field quoted with a quoted line break in one row of a hundred; backslash escapes.
//
// Run: build/csv_na_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
// bytes_per_second is in binary units (1G/s = 1 GiB/s = 1074 MB/s), per CPU second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/csv_chunker.hpp"
#include "core/csv_na.hpp"
#include "taxi_csv.hpp"

namespace {

using pgpipe::bench::TaxiCsv;
using pgpipe::bench::TaxiShape;
using pgpipe::core::CsvChunk;
using pgpipe::core::CsvChunker;
using pgpipe::core::CsvDialect;
using pgpipe::core::CsvNaRewriter;
using pgpipe::core::PandasNaValues;

constexpr size_t kBytes = 100 * 1000 * 1000;

const std::string& Plain() {
  static const std::string csv = TaxiCsv(kBytes);
  return csv;
}

const std::string& WithNa() {
  static const std::string csv = TaxiCsv(kBytes, TaxiShape{false, 10});
  return csv;
}

const std::string& Quoted() {
  static const std::string csv = TaxiCsv(kBytes, TaxiShape{true, 10});
  return csv;
}

void SetBytes(benchmark::State& state, const std::string& csv) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(csv.size()));
}

// Rewrites all of csv, `feed` bytes at a time, into one reused output buffer.
void RunRewriter(benchmark::State& state, const std::string& csv, CsvDialect dialect) {
  const size_t feed = static_cast<size_t>(state.range(0));
  int64_t replaced = 0;
  int64_t out_bytes = 0;
  for (auto _ : state) {
    CsvNaRewriter rw(PandasNaValues(), dialect, true);
    std::vector<char> out(feed + rw.MaxCarry());
    out_bytes = 0;
    for (size_t i = 0; i < csv.size(); i += feed) {
      size_t n = rw.Rewrite(csv.data() + i, std::min(feed, csv.size() - i), out.data());
      benchmark::DoNotOptimize(out.data());
      out_bytes += static_cast<int64_t>(n);
    }
    out_bytes += static_cast<int64_t>(rw.Finish(out.data()));
    replaced = rw.Replaced();
  }
  SetBytes(state, csv);
  state.counters["replaced"] = static_cast<double>(replaced);
  state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

// Taxi rows with no NA value: the case that matters most.
void BM_NaTaxi(benchmark::State& state) { RunRewriter(state, Plain(), CsvDialect{}); }

// As copy_bridge would run it: each piece lands in buf + MaxCarry() (the source's Read) and is
// rewritten into buf, the buffer COPY hands the callback.
void BM_NaTaxiInPlace(benchmark::State& state) {
  const std::string& csv = Plain();
  const size_t feed = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    CsvNaRewriter rw(PandasNaValues(), CsvDialect{}, true);
    const size_t carry = rw.MaxCarry();
    std::vector<char> buf(feed + carry);
    for (size_t i = 0; i < csv.size(); i += feed) {
      size_t n = std::min(feed, csv.size() - i);
      std::memcpy(buf.data() + carry, csv.data() + i, n);
      rw.Rewrite(buf.data() + carry, n, buf.data());
      benchmark::DoNotOptimize(buf.data());
    }
    rw.Finish(buf.data());
  }
  SetBytes(state, csv);
}

// One row in ten with three NA fields (NA, nan, and N/A or, quoted, "NULL").
void BM_NaTaxiWithNa(benchmark::State& state) { RunRewriter(state, WithNa(), CsvDialect{}); }

// Every text field quoted, a quoted line break every hundred rows, NA rows as above.
void BM_NaTaxiQuoted(benchmark::State& state) { RunRewriter(state, Quoted(), CsvDialect{}); }

// The same with backslash escapes (escape distinct from the quote).
void BM_NaTaxiQuotedBackslash(benchmark::State& state) {
  CsvDialect d;
  d.escape = '\\';
  RunRewriter(state, Quoted(), d);
}

// The floor: the same bytes memcpy'd in the same pieces into one reused buffer.
void BM_Memcpy(benchmark::State& state) {
  const std::string& csv = Plain();
  const size_t feed = static_cast<size_t>(state.range(0));
  std::vector<char> out(feed);
  for (auto _ : state) {
    for (size_t i = 0; i < csv.size(); i += feed) {
      std::memcpy(out.data(), csv.data() + i, std::min(feed, csv.size() - i));
      benchmark::DoNotOptimize(out.data());
    }
  }
  SetBytes(state, csv);
}

// The record chunker on the same bytes and pieces (4 MiB chunks, moved out and dropped).
void BM_ChunkerTaxi(benchmark::State& state) {
  const std::string& csv = Plain();
  const size_t feed = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    CsvChunker chunker(CsvDialect{}, 4 << 20, true);
    std::vector<CsvChunk> out;
    for (size_t i = 0; i < csv.size(); i += feed) {
      chunker.Feed(csv.data() + i, std::min(feed, csv.size() - i), &out);
      for (CsvChunk& c : out) benchmark::DoNotOptimize(c.bytes.data());
      out.clear();
    }
    chunker.Finish(&out);
  }
  SetBytes(state, csv);
}

constexpr int64_t kFeed = 64 << 10;
BENCHMARK(BM_NaTaxi)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaTaxiInPlace)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaTaxiWithNa)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaTaxiQuoted)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaTaxiQuotedBackslash)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Memcpy)->Arg(kFeed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkerTaxi)->Arg(kFeed)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

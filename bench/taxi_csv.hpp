// Taxi-shaped CSV for the benchmarks in bench/: rows like the NYC yellow-taxi month (18 columns,
// ~90-byte rows; test/fixtures/gen_taxi.py has the real shape), generated the same on every run.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace pgpipe::bench {

// A small deterministic generator (same data on every run).
struct Lcg {
  uint64_t s;
  uint32_t Next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(s >> 33);
  }
  uint32_t Below(uint32_t n) { return Next() % n; }
};

// Money as the real file prints it: 8, 0.5, 11.8, 51.95.
inline std::string Money(uint32_t cents) {
  std::string s = std::to_string(cents / 100);
  uint32_t c = cents % 100;
  if (c == 0) return s;
  if (c % 10 == 0) return s + "." + std::to_string(c / 10);
  return s + (c < 10 ? ".0" : ".") + std::to_string(c);
}

struct TaxiShape {
  bool quoted = false;  // text fields quoted, a quoted line break in every hundredth row
  int na_every = 0;     // every na_every-th row has NA values pandas reads as missing (0: none)
};

// About `bytes` of taxi-shaped CSV, header first.
inline std::string TaxiCsv(size_t bytes, TaxiShape shape = {}) {
  const bool quoted = shape.quoted;
  std::string out =
      "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,"
      "RatecodeID,store_and_fwd_flag,PULocationID,DOLocationID,payment_type,fare_amount,extra,"
      "mta_tax,tip_amount,tolls_amount,improvement_surcharge,total_amount,congestion_surcharge\n";
  out.reserve(bytes + 256);
  Lcg rng{2021};
  char stamp[32];
  for (uint64_t row = 0; out.size() < bytes; ++row) {
    const bool na = shape.na_every > 0 && row % static_cast<uint64_t>(shape.na_every) == 0;
    uint32_t t = static_cast<uint32_t>(row * 2678400 / 1000000 % 2678400);
    uint32_t dur = 60 + rng.Below(1800);
    uint32_t dist = rng.Below(2000);
    uint32_t fare = 250 + dist * 2 + rng.Below(500);
    uint32_t tip = rng.Below(4) == 0 ? 0 : rng.Below(1000);
    out += na ? "NA," : rng.Below(3) == 0 ? "1," : "2,";
    for (uint32_t s : {t, t + dur}) {
      std::snprintf(stamp, sizeof stamp, "2021-01-%02u %02u:%02u:%02u", 1 + s / 86400 % 31,
                    s / 3600 % 24, s / 60 % 60, s % 60);
      if (quoted) out += '"';
      out += stamp;
      out += quoted ? "\"," : ",";
    }
    out += na ? std::string("nan,") : std::to_string(1 + rng.Below(6)) + ",";
    if (dist < 100)
      std::snprintf(stamp, sizeof stamp, ".%02u,1,", dist);
    else
      std::snprintf(stamp, sizeof stamp, "%u.%02u,1,", dist / 100, dist % 100);
    out += stamp;
    if (na)
      out += quoted ? "\"NULL\"," : "N/A,";
    else if (quoted)
      out += row % 100 == 0 ? "\"N\nY\"," : "\"N\",";
    else
      out += "N,";
    out += std::to_string(1 + rng.Below(265)) + "," + std::to_string(1 + rng.Below(265)) + "," +
           std::to_string(1 + rng.Below(2)) + "," + Money(fare) + ",0.5,0.5," + Money(tip) +
           ",0,0.3," + Money(fare + tip + 130) + ",2.5\n";
  }
  return out;
}

}  // namespace pgpipe::bench

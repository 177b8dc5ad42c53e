-- The taxi month typed as the pipeline types it (pandas dtypes of the DataTalksClub course).
CREATE TABLE IF NOT EXISTS %I (
  "VendorID" bigint, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp,
  passenger_count bigint, trip_distance double precision, "RatecodeID" bigint,
  store_and_fwd_flag text, "PULocationID" bigint, "DOLocationID" bigint, payment_type bigint,
  fare_amount double precision, extra double precision, mta_tax double precision,
  tip_amount double precision, tolls_amount double precision,
  improvement_surcharge double precision, total_amount double precision,
  congestion_surcharge double precision)

// Included last by every file of src/core: the build fails if a Postgres header leaked in,
// so the Postgres-free zone stays Postgres-free (STYLE.md, "The two zones").
#if defined(POSTGRES_H)
#error "src/core must not include Postgres headers"
#endif

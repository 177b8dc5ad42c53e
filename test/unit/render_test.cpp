// Template rendering and test planning, without Postgres: the SQL they produce.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/render.hpp"
#include "core/test_plan.hpp"

using namespace pgpipe::core;

TEST(Render, VariablesBecomeTypedColumns) {
  EXPECT_EQ(VariablesSelectSql(R"({"year": 2021, "ratio": 0.5, "color": "yellow", "on": true, "none": null, "list": [1, 2], "execution_date": "2021-01-01T00:00:00+00:00"})"),
            "SELECT 2021::bigint AS \"year\", 0.5::numeric AS \"ratio\", 'yellow'::text AS \"color\", "
            "true AS \"on\", NULL::text AS \"none\", '[1,2]'::jsonb AS \"list\", "
            "'2021-01-01T00:00:00+00:00'::timestamptz AS \"execution_date\"");
  EXPECT_EQ(VariablesSelectSql("{}"), "SELECT NULL AS pipeline_no_variables");
  EXPECT_EQ(VariablesSelectSql(R"({"q": "it's"})"), "SELECT 'it''s'::text AS \"q\"");
}

TEST(Render, BlockNamesBecomeRelationsAndExpressionsAreEvaluatedTogether) {
  auto relation_of = [](const std::string& name) -> std::optional<std::string> {
    if (name == "load") return std::string("pipeline_staging.\"r1_load\"");
    return std::nullopt;
  };
  RenderPlan plan = PlanRender("SELECT * FROM {{ load }} WHERE y = {{ year }} AND m = {{ lpad(month::text, 2, '0') }}",
                               "sql of block \"t\"", relation_of, "SELECT 1 AS year");
  EXPECT_EQ(plan.eval_sql,
            "SELECT (year)::text, (lpad(month::text, 2, '0'))::text FROM (SELECT 1 AS year) AS pipeline_vars");
  EXPECT_EQ(FinishRender(plan, {std::string("2021"), std::string("01")}),
            "SELECT * FROM pipeline_staging.\"r1_load\" WHERE y = 2021 AND m = 01");
  try {
    FinishRender(plan, {std::string("2021"), std::nullopt});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.message(), "{{ lpad(month::text, 2, '0') }} in sql of block \"t\" is NULL");
  }
}

TEST(Render, NamesTheMissingVariable) {
  EXPECT_EQ(MissingVariable("column \"month\" does not exist"), std::optional<std::string>("month"));
  EXPECT_EQ(MissingVariable("division by zero"), std::nullopt);
}

TEST(TestPlan, FoldsCountingTestsIntoOneScan) {
  PipelineSpec spec = ParsePipelineYaml(R"(
name: p
blocks:
  - name: t
    type: data_loader
    sql: select 1 as passenger_count
    tests:
      - assert: SELECT count(*) = 0 FROM {{ self }} WHERE passenger_count = 0
        message: There are rides with zero passengers
      - not_null: [a, b]
      - row_count: {min: 1}
      - accepted_values: {column: flag, values: [N, "Y"]}
      - expression: fare >= 0
      - unique: [id]
      - assert: SELECT bool_and(x) FROM {{ self }}
)");
  // (the server's parser decides what folds; here, a stand-in that knows the one foldable assert)
  CountZeroFold fold = [](const std::string& sql) -> std::optional<std::string> {
    if (sql == "SELECT count(*) = 0 FROM {{ self }} WHERE passenger_count = 0") return "passenger_count = 0";
    return std::nullopt;
  };
  TestPlan plan = PlanTests(spec.blocks[0], "s.\"t\"", false, fold);
  EXPECT_EQ(plan.count_sql,
            "SELECT count(*), count(*) FILTER (WHERE (passenger_count = 0) IS TRUE), "
            "count(*) FILTER (WHERE \"a\" IS NULL OR \"b\" IS NULL), "
            "count(*) FILTER (WHERE \"flag\" IS NOT NULL AND \"flag\"::text NOT IN ('N', 'Y')), "
            "count(*) FILTER (WHERE (fare >= 0) IS NOT TRUE) FROM s.\"t\"");
  // (the same conditions, one per counted column, for a load that counts them as it goes)
  EXPECT_EQ(plan.offending, (std::vector<std::string>{"(passenger_count = 0) IS TRUE", "\"a\" IS NULL OR \"b\" IS NULL",
                                                      "\"flag\" IS NOT NULL AND \"flag\"::text NOT IN ('N', 'Y')",
                                                      "(fare >= 0) IS NOT TRUE"}));
  ASSERT_EQ(plan.tests.size(), 7u);
  EXPECT_EQ(plan.tests[0].count_column, 1);
  EXPECT_TRUE(plan.tests[2].row_count);
  EXPECT_EQ(plan.tests[5].count_column, -1);
  EXPECT_NE(plan.tests[5].own_sql.find("GROUP BY \"id\" HAVING count(*) > 1"), std::string::npos);
  EXPECT_EQ(plan.tests[6].own_sql, "SELECT bool_and(x) FROM {{ self }}");

  EXPECT_EQ(JudgeTest(plan.tests[0], 12, std::nullopt),
            std::optional<std::string>("There are rides with zero passengers (12 rows)"));
  EXPECT_EQ(JudgeTest(plan.tests[0], 0, std::nullopt), std::nullopt);
  EXPECT_EQ(JudgeTest(plan.tests[2], 0, std::nullopt),
            std::optional<std::string>("row_count (0 rows, expected at least 1)"));
  EXPECT_EQ(JudgeTest(plan.tests[1], 1, std::nullopt),
            std::optional<std::string>("not_null(\"a\", \"b\") (1 row)"));
  EXPECT_EQ(JudgeTest(plan.tests[6], 0, false),
            std::optional<std::string>("assert SELECT bool_and(x) FROM {{ self }}"));
}

TEST(TestPlan, NoTestsNoScanUnlessRowsAreWanted) {
  PipelineSpec spec = ParsePipelineYaml("name: p\nblocks:\n  - {name: t, type: data_loader, sql: x}\n");
  EXPECT_EQ(PlanTests(spec.blocks[0], "r", false).count_sql, "");
  EXPECT_EQ(PlanTests(spec.blocks[0], "r", true).count_sql, "SELECT count(*) FROM r");
}

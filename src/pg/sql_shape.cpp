// Query shapes from the parse tree: see sql_shape.hpp.
//
// The condition's text is cut from the statement at the end of its top-level WHERE keyword, as
// Postgres's own scanner finds it (so comments, strings and parentheses are read as the parser
// reads them), up to the end of the statement (RawStmt.stmt_len leaves out a final semicolon).
extern "C" {
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/gramparse.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "lib/stringinfo.h"
#include "utils/ruleutils.h"
}

#include <cstring>
#include <set>

#include "core/template.hpp"
#include "pg/boundary.hpp"
#include "pg/sql_shape.hpp"
#include "pg/subxact.hpp"

namespace pgpipe::pg {

namespace {

enum class Target { kStar, kCountEqualsZero };

// True when the expression tree holds a subquery or a window: COPY's WHERE takes neither.
bool HasSubqueryOrWindow(Node* node, void*) {
  if (node == nullptr) return false;
  if (IsA(node, SubLink)) return true;
  if (IsA(node, FuncCall) && castNode(FuncCall, node)->over != nullptr) return true;
  return raw_expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(HasSubqueryOrWindow)), nullptr);
}

// True for the target list "*".
bool IsStar(List* targets) {
  if (list_length(targets) != 1) return false;
  ResTarget* t = castNode(ResTarget, linitial(targets));
  if (t->name || t->indirection || !IsA(t->val, ColumnRef)) return false;
  List* fields = castNode(ColumnRef, t->val)->fields;
  return list_length(fields) == 1 && IsA(linitial(fields), A_Star);
}

// True for the target list "count(*) = 0".
bool IsCountEqualsZero(List* targets) {
  if (list_length(targets) != 1) return false;
  ResTarget* t = castNode(ResTarget, linitial(targets));
  if (t->name || t->indirection || !IsA(t->val, A_Expr)) return false;
  A_Expr* e = castNode(A_Expr, t->val);
  if (e->kind != AEXPR_OP || list_length(e->name) != 1 || strcmp(strVal(linitial(e->name)), "=") != 0)
    return false;
  if (!IsA(e->lexpr, FuncCall) || !IsA(e->rexpr, A_Const)) return false;
  FuncCall* f = castNode(FuncCall, e->lexpr);
  A_Const* zero = castNode(A_Const, e->rexpr);
  bool count_star = list_length(f->funcname) == 1 && strcmp(strVal(linitial(f->funcname)), "count") == 0 &&
                    f->agg_star && !f->agg_distinct && !f->agg_filter && !f->over && !f->agg_order;
  return count_star && !zero->isnull && IsA(&zero->val, Integer) && intVal(&zero->val) == 0;
}

// The offset just past the first WHERE keyword at parenthesis depth 0, or -1.
int EndOfTopLevelWhere(const char* sql) {
  core_yy_extra_type extra;
  core_yyscan_t scanner = scanner_init(sql, &extra, &ScanKeywords, ScanKeywordTokens);
  int depth = 0, end = -1;
  for (;;) {
    core_YYSTYPE value;
    YYLTYPE location;
    int token = core_yylex(&value, &location, scanner);
    if (token == 0) break;
    if (token == '(') ++depth;
    if (token == ')') --depth;
    if (token == WHERE && depth == 0) {
      end = location + static_cast<int>(strlen("where"));
      break;
    }
  }
  scanner_finish(scanner);
  return end;
}

// The condition when `sql` has exactly the shape of `target` over the placeholder.
std::optional<std::string> ConditionOf(const std::string& sql, Target target) {
  struct Found {
    bool ok;
    int from, to;
  };
  Found found = {false, 0, 0};
  auto error = InSubtransaction([&] {
    const char* text = sql.c_str();
    found = PgCall([&]() -> Found {
      List* parsed = raw_parser(text, RAW_PARSE_DEFAULT);
      if (list_length(parsed) != 1) return Found{false, 0, 0};
      RawStmt* raw = castNode(RawStmt, linitial(parsed));
      if (!IsA(raw->stmt, SelectStmt)) return Found{false, 0, 0};
      SelectStmt* s = castNode(SelectStmt, raw->stmt);
      bool plain = s->op == SETOP_NONE && s->distinctClause == NIL && s->intoClause == nullptr &&
                   s->groupClause == NIL && !s->groupDistinct && s->havingClause == nullptr &&
                   s->windowClause == NIL && s->valuesLists == NIL && s->sortClause == NIL &&
                   s->limitOffset == nullptr && s->limitCount == nullptr && s->lockingClause == NIL &&
                   s->withClause == nullptr && s->whereClause != nullptr;
      bool targets = target == Target::kStar ? IsStar(s->targetList) : IsCountEqualsZero(s->targetList);
      if (!plain || !targets || list_length(s->fromClause) != 1 || !IsA(linitial(s->fromClause), RangeVar))
        return Found{false, 0, 0};
      RangeVar* from = castNode(RangeVar, linitial(s->fromClause));
      if (from->catalogname || from->schemaname || from->alias || !from->inh ||
          strcmp(from->relname, kShapePlaceholder) != 0)
        return Found{false, 0, 0};
      if (HasSubqueryOrWindow(s->whereClause, nullptr)) return Found{false, 0, 0};
      int start = EndOfTopLevelWhere(text + raw->stmt_location);
      if (start < 0) return Found{false, 0, 0};
      int end = raw->stmt_len > 0 ? raw->stmt_len : static_cast<int>(strlen(text + raw->stmt_location));
      return Found{true, raw->stmt_location + start, raw->stmt_location + end};
    });
  });
  if (error || !found.ok || found.to <= found.from) return std::nullopt;
  return sql.substr(found.from, found.to - found.from);
}

// One output column as the parse analysis found it (palloc'd strings: made under the guard).
struct RawColumn {
  const char* name;
  const char* column;      // nullptr for a computed column
  bool from_star;
  const char* expression;  // a computed column's, deparsed
  const char* type;
};
struct RawProjection {
  bool ok;
  int count;
  RawColumn* columns;
  const char* condition;  // nullptr: no WHERE
};

// True for a target "*" (or "x.*").
bool IsStarTarget(ResTarget* t) {
  if (!IsA(t->val, ColumnRef)) return false;
  return IsA(llast(castNode(ColumnRef, t->val)->fields), A_Star);
}

// Whether a computed column's expression can be a stored generated column that reproduces it:
// immutable, over ordinary columns only, of its type's own collation.
bool Computable(Node* e) {
  if (contain_mutable_functions(e)) return false;
  ListCell* lc;
  foreach (lc, pull_var_clause(e, 0))
    if (castNode(Var, lfirst(lc))->varattno <= 0) return false;
  Oid collation = exprCollation(e);
  return !OidIsValid(collation) || collation == get_typcollation(exprType(e));
}

// The parse analysis of a projection (see ProjectionOf); may ereport (a syntax error).
RawProjection AnalyzeProjection(const char* text) {
  RawProjection no = {false, 0, nullptr, nullptr};
  List* parsed = raw_parser(text, RAW_PARSE_DEFAULT);
  if (list_length(parsed) != 1) return no;
  RawStmt* raw = castNode(RawStmt, linitial(parsed));
  if (!IsA(raw->stmt, SelectStmt)) return no;
  SelectStmt* s = castNode(SelectStmt, raw->stmt);
  if (s->op != SETOP_NONE || s->distinctClause != NIL || s->intoClause != nullptr || s->groupClause != NIL ||
      s->havingClause != nullptr || s->windowClause != NIL || s->valuesLists != NIL || s->sortClause != NIL ||
      s->limitOffset != nullptr || s->limitCount != nullptr || s->lockingClause != NIL || s->withClause != nullptr ||
      list_length(s->fromClause) != 1 || !IsA(linitial(s->fromClause), RangeVar))
    return no;
  RangeVar* from = castNode(RangeVar, linitial(s->fromClause));
  if (from->catalogname || from->schemaname || from->alias || !from->inh || strcmp(from->relname, kShapePlaceholder) != 0)
    return no;
  Query* q = parse_analyze_fixedparams(raw, text, nullptr, 0, nullptr);
  if (q->commandType != CMD_SELECT || q->hasAggs || q->hasWindowFuncs || q->hasTargetSRFs || q->hasSubLinks ||
      q->hasDistinctOn || q->hasRecursive || q->hasModifyingCTE || q->hasForUpdate || q->cteList != NIL ||
      list_length(q->rtable) != 1 || q->groupClause != NIL || q->groupingSets != NIL || q->havingQual != nullptr ||
      q->windowClause != NIL || q->distinctClause != NIL || q->sortClause != NIL || q->limitOffset != nullptr ||
      q->limitCount != nullptr || q->rowMarks != NIL || q->setOperations != nullptr)
    return no;
  RangeTblEntry* rte = castNode(RangeTblEntry, linitial(q->rtable));
  if (rte->rtekind != RTE_RELATION) return no;
  const Oid relid = rte->relid;
  // Which analyzed entries stand for a "*": as many as the placeholder has columns.
  int width = 0;
  for (int attno = 1;; ++attno) {
    char* att = get_attname(relid, static_cast<AttrNumber>(attno), true);
    if (att == nullptr) break;
    ++width;
  }
  int n = list_length(q->targetList);
  bool* starred = static_cast<bool*>(palloc0(sizeof(bool) * (n + 1)));
  int at = 0;
  ListCell* lc;
  foreach (lc, s->targetList) {
    bool star = IsStarTarget(castNode(ResTarget, lfirst(lc)));
    for (int k = 0; k < (star ? width : 1) && at < n; ++k) starred[at++] = star;
  }
  List* context = deparse_context_for(kShapePlaceholder, relid);
  RawProjection out = {true, 0, static_cast<RawColumn*>(palloc0(sizeof(RawColumn) * (n + 1))), nullptr};
  Bitmapset* used = nullptr;
  int i = 0;
  foreach (lc, q->targetList) {
    TargetEntry* te = castNode(TargetEntry, lfirst(lc));
    bool star = starred[i++];
    if (te->resjunk) continue;
    RawColumn& c = out.columns[out.count++];
    c.name = te->resname ? pstrdup(te->resname) : pstrdup("?column?");
    c.from_star = star;
    Node* e = reinterpret_cast<Node*>(te->expr);
    if (IsA(e, Var) && castNode(Var, e)->varattno > 0 && castNode(Var, e)->varlevelsup == 0 &&
        !bms_is_member(castNode(Var, e)->varattno, used)) {
      used = bms_add_member(used, castNode(Var, e)->varattno);
      c.column = get_attname(relid, castNode(Var, e)->varattno, false);
      continue;
    }
    if (star || !Computable(e)) return no;
    c.expression = deparse_expression(e, context, false, false);
    c.type = format_type_with_typemod(exprType(e), exprTypmod(e));
  }
  if (q->jointree->quals != nullptr) out.condition = deparse_expression(q->jointree->quals, context, false, false);
  return out;
}

// The analysis of a row condition (see RowCondition): its deparsed text and the names of the
// columns it names (palloc'd, NULL-terminated), or text nullptr; may ereport (a syntax error, an
// unknown column).
struct RawRowCondition {
  const char* text;
  const char** columns;
};
RawRowCondition AnalyzeRowCondition(const char* condition) {
  RawRowCondition no = {nullptr, nullptr};
  StringInfoData sql;
  initStringInfo(&sql);
  appendStringInfo(&sql, "SELECT 1 FROM %s WHERE %s", kShapePlaceholder, condition);
  List* parsed = raw_parser(sql.data, RAW_PARSE_DEFAULT);
  if (list_length(parsed) != 1) return no;
  RawStmt* raw = castNode(RawStmt, linitial(parsed));
  SelectStmt* s = castNode(SelectStmt, raw->stmt);
  // (one condition: the text cannot close the statement and start another clause)
  if (s->groupClause != NIL || s->havingClause != nullptr || s->windowClause != NIL || s->sortClause != NIL ||
      s->limitOffset != nullptr || s->limitCount != nullptr || s->lockingClause != NIL || s->op != SETOP_NONE ||
      list_length(s->fromClause) != 1)
    return no;
  Query* q = parse_analyze_fixedparams(raw, sql.data, nullptr, 0, nullptr);
  if (q->hasAggs || q->hasWindowFuncs || q->hasTargetSRFs || q->hasSubLinks || list_length(q->rtable) != 1 ||
      q->jointree->quals == nullptr)
    return no;
  Node* quals = q->jointree->quals;
  if (contain_volatile_functions(quals) || expression_returns_set(quals)) return no;
  RangeTblEntry* rte = castNode(RangeTblEntry, linitial(q->rtable));
  List* vars = pull_var_clause(quals, 0);
  const char** columns = static_cast<const char**>(palloc0(sizeof(const char*) * (list_length(vars) + 1)));
  int n = 0;
  ListCell* lc;
  foreach (lc, vars) {
    Var* var = castNode(Var, lfirst(lc));
    if (var->varattno <= 0) return no;
    columns[n++] = get_attname(rte->relid, var->varattno, false);
  }
  return RawRowCondition{deparse_expression(quals, deparse_context_for(kShapePlaceholder, rte->relid), false, false),
                         columns};
}

}  // namespace

std::optional<RowConditionText> RowCondition(const std::string& condition) {
  RawRowCondition raw = {nullptr, nullptr};
  auto error = InSubtransaction([&] {
    const char* text = condition.c_str();
    raw = PgCall([text] { return AnalyzeRowCondition(text); });
  });
  if (error || raw.text == nullptr) return std::nullopt;
  RowConditionText out;
  out.text = raw.text;
  for (const char** c = raw.columns; *c != nullptr; ++c) out.columns.emplace_back(*c);
  return out;
}

std::optional<ProjectionShape> ProjectionOf(const std::string& sql) {
  RawProjection raw = {false, 0, nullptr, nullptr};
  auto error = InSubtransaction([&] {
    const char* text = sql.c_str();
    raw = PgCall([text] { return AnalyzeProjection(text); });
  });
  if (error || !raw.ok || raw.count == 0) return std::nullopt;
  ProjectionShape shape;
  std::set<std::string> names;
  for (int i = 0; i < raw.count; ++i) {
    const RawColumn& r = raw.columns[i];
    ProjectedColumn c;
    c.name = r.name;
    c.column = r.column ? r.column : "";
    c.from_star = r.from_star;
    c.expression = r.expression ? r.expression : "";
    c.type = r.type ? r.type : "";
    if (!names.insert(c.name).second) return std::nullopt;  // (the unfused CTAS refuses it)
    shape.projection.columns.push_back(std::move(c));
  }
  shape.condition = raw.condition ? raw.condition : "";
  return shape;
}

std::optional<std::string> FilterCondition(const std::string& sql) { return ConditionOf(sql, Target::kStar); }

std::optional<std::string> CountZeroCondition(const std::string& sql) {
  return ConditionOf(sql, Target::kCountEqualsZero);
}

std::optional<std::string> WithPlaceholder(const std::string& text, const std::string& name) {
  std::string out;
  for (const auto& piece : core::ScanTemplate(text, "a query")) {
    if (!piece.is_expression) {
      out += piece.text;
    } else if (piece.text == name) {
      out += kShapePlaceholder;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace pgpipe::pg

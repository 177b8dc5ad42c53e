// Query shapes from the parse tree: see sql_shape.hpp.
//
// The condition's text is cut from the statement at the end of its top-level WHERE keyword, as
// Postgres's own scanner finds it (so comments, strings and parentheses are read as the parser
// reads them), up to the end of the statement (RawStmt.stmt_len leaves out a final semicolon).
extern "C" {
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/gramparse.h"
#include "parser/parser.h"
#include "parser/scanner.h"
}

#include <cstring>

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

}  // namespace

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

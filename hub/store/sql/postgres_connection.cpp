#include "hub/store/sql/postgres_connection.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <vector>

namespace tether::hub::sql {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// Parameters and results in binary form would need a decoder per column type;
// parameters go binary (exact doubles, bytes without escaping, lengths instead of
// NUL terminators), results come as text and are decoded by their column type.
constexpr int kBinary = 1;
constexpr int kTextResults = 0;

std::string excerpt(std::string_view sql) {
  constexpr std::size_t kMax = 80;
  std::string out(sql.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (sql.size() > kMax) out += "...";
  return out;
}

std::string trimmed(const char* message) {
  std::string out = message ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// libpq prints NOTICEs ("relation already exists, skipping") on stderr unless
// told otherwise; library code does not log.
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

Oid type_of(const Param& param) {
  const auto& v = param.value();
  if (std::holds_alternative<std::int64_t>(v)) return kInt8Oid;
  if (std::holds_alternative<double>(v)) return kFloat8Oid;
  if (std::holds_alternative<std::string_view>(v)) return kTextOid;
  if (std::holds_alternative<Param::Blob>(v)) return kByteaOid;
  return 0;  // NULL: the server infers the type from the statement
}

std::array<char, 8> big_endian(std::uint64_t v) {
  std::array<char, 8> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[out.size() - 1 - i] = static_cast<char>(v & 0xffU);
    v >>= 8U;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's text form: "\x" and two hex digits a byte (bytea_output = hex, the
// default since 9.0).
protocol::Bytes decode_bytea(std::string_view text) {
  protocol::Bytes out;
  if (text.substr(0, 2) != "\\x") return protocol::Bytes(text.begin(), text.end());
  text.remove_prefix(2);
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

Row::Cell cell(const PGresult* result, int row, int col) {
  if (PQgetisnull(result, row, col)) return std::monostate{};
  const char* p = PQgetvalue(result, row, col);
  const std::string_view text(p, static_cast<std::size_t>(PQgetlength(result, row, col)));
  switch (PQftype(result, col)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kOidOid: {
      std::int64_t v = 0;
      std::from_chars(text.data(), text.data() + text.size(), v);
      return v;
    }
    case kFloat8Oid:
    case kFloat4Oid: {
      double v = 0;
      std::from_chars(text.data(), text.data() + text.size(), v);
      return v;
    }
    case kNumericOid: {
      // SUM() of BIGINT is NUMERIC: whole values stay integers.
      std::int64_t i = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
      if (ec == std::errc() && end == text.data() + text.size()) return i;
      double d = 0;
      std::from_chars(text.data(), text.data() + text.size(), d);
      return d;
    }
    case kBoolOid:
      return std::int64_t{text == "t" ? 1 : 0};
    case kByteaOid:
      return decode_bytea(text);
    default:
      return std::string(text);
  }
}

}  // namespace

Result<std::unique_ptr<Connection>> PostgresConnection::open(const StoreUrl& url) {
  std::string password;
  if (PQconninfoOption* options = PQconninfoParse(url.postgres.c_str(), nullptr)) {
    for (PQconninfoOption* o = options; o->keyword; ++o) {
      if (std::string_view(o->keyword) == "password" && o->val) password = o->val;
    }
    PQconninfoFree(options);
  }
  // A default connect timeout, which the URL may override (later values win).
  const std::array<const char*, 3> keywords = {"connect_timeout", "dbname", nullptr};
  const std::array<const char*, 3> values = {"10", url.postgres.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 1);
  std::unique_ptr<PostgresConnection> out(new PostgresConnection(conn, url.redacted, password));
  if (!conn) return Error(ErrorCode::kUnavailable, "connecting to PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    return Error(ErrorCode::kUnavailable, "connecting to PostgreSQL at " + url.redacted + ": " +
                                              out->scrub(trimmed(PQerrorMessage(conn))));
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return std::unique_ptr<Connection>(std::move(out));
}

PostgresConnection::~PostgresConnection() {
  PQfinish(conn_);
}

std::string PostgresConnection::scrub(std::string message) const {
  if (password_.empty()) return message;
  for (std::size_t at = message.find(password_); at != std::string::npos;
       at = message.find(password_, at)) {
    message.replace(at, password_.size(), "***");
  }
  return message;
}

void PostgresConnection::note_transaction_state() {
  if (PQstatus(conn_) != CONNECTION_OK) return;
  const PGTransactionStatusType state = PQtransactionStatus(conn_);
  in_transaction_ = state == PQTRANS_INTRANS || state == PQTRANS_INERROR;
}

Status PostgresConnection::ensure_connected() {
  if (lost_transaction_) {
    return Error(ErrorCode::kUnavailable,
                 "PostgreSQL (" + redacted_ +
                     "): the connection was lost inside a transaction; roll it back first");
  }
  if (!reconnect_ && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  // The server's prepared statements died with the old session, and so did any
  // transaction.
  statements_.clear();
  lost_transaction_ = in_transaction_;
  in_transaction_ = false;
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    reconnect_ = true;
    return Error(ErrorCode::kUnavailable, "reconnecting to PostgreSQL at " + redacted_ + ": " +
                                              scrub(trimmed(PQerrorMessage(conn_))));
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  reconnect_ = false;
  if (lost_transaction_) return ensure_connected();
  return Status::Ok();
}

Error PostgresConnection::failure(const PGresult* result, std::string_view sql) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? trimmed(primary) : trimmed(PQerrorMessage(conn_));
  if (message.empty()) message = "unknown error";
  // Class 08 is "connection exception" (but 08P01 is a protocol violation such as
  // a wrong parameter count); 57P01..57P03 are the server shutting down or
  // starting up.
  const bool lost = PQstatus(conn_) != CONNECTION_OK ||
                    (sqlstate.starts_with("08") && sqlstate != "08P01") ||
                    sqlstate.starts_with("57P0");
  if (lost) reconnect_ = true;
  std::string text = "PostgreSQL (" + redacted_ + "): " + scrub(message);
  if (!sqlstate.empty()) text += " [SQLSTATE " + sqlstate + "]";
  if (!sql.empty()) text += " (in: " + excerpt(sql) + ")";
  return Error(lost ? ErrorCode::kUnavailable : ErrorCode::kStorageFailure, std::move(text));
}

Status PostgresConnection::exec(std::string_view sql) {
  if (lost_transaction_ && (sql == "ROLLBACK" || sql == "COMMIT")) {
    lost_transaction_ = false;
    if (sql == "ROLLBACK") return Status::Ok();
    return Error(ErrorCode::kUnavailable,
                 "PostgreSQL (" + redacted_ + "): the transaction was lost with the connection");
  }
  if (auto s = ensure_connected(); !s.ok()) return s;
  const std::string text(sql);
  ResultPtr result(PQexec(conn_, text.c_str()));
  note_transaction_state();
  // A COMMIT or ROLLBACK that fails with the connection still ends the
  // transaction (committed or not, it is over).
  if ((sql == "COMMIT" || sql == "ROLLBACK") && PQstatus(conn_) != CONNECTION_OK) {
    in_transaction_ = false;
  }
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    return failure(result.get(), sql);
  }
  return Status::Ok();
}

Status PostgresConnection::begin() {
  return exec("BEGIN");
}

Result<PostgresConnection::ResultPtr> PostgresConnection::execute(std::string_view sql,
                                                                  const Param* params,
                                                                  std::size_t count) {
  if (auto s = ensure_connected(); !s.ok()) return s.error();
  // The scratch of one call, kept for its capacity: a monitoring batch runs
  // statements of hundreds of parameters, thousands of times a second.
  std::vector<Oid>& types = scratch_.types;
  types.resize(count);
  std::string& key = scratch_.key;
  key.assign(sql);
  key += '\0';
  for (std::size_t i = 0; i < count; ++i) {
    types[i] = type_of(params[i]);
    key.append(reinterpret_cast<const char*>(&types[i]), sizeof(Oid));
  }
  auto it = statements_.find(key);
  if (it == statements_.end()) {
    std::string name = "tether_" + std::to_string(statements_.size() + 1);
    const std::string text(sql);
    ResultPtr prepared(
        PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(count), types.data()));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      note_transaction_state();
      return failure(prepared.get(), sql);
    }
    it = statements_.emplace(key, std::move(name)).first;
  }
  std::vector<std::array<char, 8>>& numbers = scratch_.numbers;
  std::vector<const char*>& values = scratch_.values;
  std::vector<int>& lengths = scratch_.lengths;
  std::vector<int>& formats = scratch_.formats;
  numbers.assign(count, {});
  values.assign(count, nullptr);
  lengths.assign(count, 0);
  formats.assign(count, kBinary);
  static const char kEmpty[] = "";
  for (std::size_t i = 0; i < count; ++i) {
    const auto& v = params[i].value();
    if (const auto* n = std::get_if<std::int64_t>(&v)) {
      numbers[i] = big_endian(static_cast<std::uint64_t>(*n));
      values[i] = numbers[i].data();
      lengths[i] = 8;
    } else if (const auto* d = std::get_if<double>(&v)) {
      numbers[i] = big_endian(std::bit_cast<std::uint64_t>(*d));
      values[i] = numbers[i].data();
      lengths[i] = 8;
    } else if (const auto* s = std::get_if<std::string_view>(&v)) {
      // A null pointer would be NULL: empty text points at kEmpty.
      values[i] = s->empty() ? kEmpty : s->data();
      lengths[i] = static_cast<int>(s->size());
    } else if (const auto* b = std::get_if<Param::Blob>(&v)) {
      values[i] = b->size == 0 ? kEmpty : reinterpret_cast<const char*>(b->data);
      lengths[i] = static_cast<int>(b->size);
    }
  }
  ResultPtr result(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(count), values.data(),
                                  lengths.data(), formats.data(), kTextResults));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return failure(result.get(), sql);
  }
  return result;
}

Result<Rows> PostgresConnection::query(std::string_view sql, const Param* params,
                                       std::size_t count) {
  auto result = execute(sql, params, count);
  if (!result.ok()) return result.error();
  const PGresult* r = result->get();
  const int rows = PQntuples(r);
  const int columns = PQnfields(r);
  Rows out;
  out.reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    std::vector<Row::Cell> cells;
    cells.reserve(static_cast<std::size_t>(columns));
    for (int col = 0; col < columns; ++col) cells.push_back(cell(r, row, col));
    out.emplace_back(std::move(cells));
  }
  return out;
}

Result<std::int64_t> PostgresConnection::run(std::string_view sql, const Param* params,
                                             std::size_t count) {
  auto result = execute(sql, params, count);
  if (!result.ok()) return result.error();
  // A SELECT changes nothing (PQcmdTuples would count its rows).
  if (std::string_view(PQcmdStatus(result->get())).starts_with("SELECT")) return std::int64_t{0};
  const std::string_view tuples = PQcmdTuples(result->get());
  std::int64_t changed = 0;
  std::from_chars(tuples.data(), tuples.data() + tuples.size(), changed);
  return changed;
}

}  // namespace tether::hub::sql

// The hub's software-update parts on their own: the Range header, artifact names,
// the signer checked with tetherd's own verifier (plugins/update/signature_check),
// the artifact folder's hashing worker, and the update service with a fake device
// side: offers, acks only after the service's commit, consent, cancel, campaigns,
// roles, and state that survives a restart of the hub. Plus the update store on
// each back end, and on an updates.db from before the SQL port.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "hub/auth.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/services/update_service.hpp"
#include "hub/store/sql_command_store.hpp"
#include "hub/store/sql_config_store.hpp"
#include "hub/update/artifact_library.hpp"
#include "hub/update/byte_range.hpp"
#include "hub/update/update_store.hpp"
#include "plugins/update/signature_check.hpp"
#include "protocol/update.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"
#include "tests/hub/legacy_sqlite_file.hpp"
#include "tests/support/sql_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/update/key_tools.hpp"

namespace tether::hub {
namespace {

using Kind = ByteRange::Kind;
namespace wire = protocol::update;

// ------------------------------------------------------------------ Range

TEST(ByteRangeTest, ResumingRangesArePartial) {
  auto r = choose_range("bytes=100-", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first, 100u);
  EXPECT_EQ(r.length, 900u);
  r = choose_range("bytes=0-0", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.length, 1u);
  r = choose_range("bytes=990-5000", 1000);  // the end is clamped
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first, 990u);
  EXPECT_EQ(r.length, 10u);
  r = choose_range("bytes=-10", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first, 990u);
  r = choose_range("bytes=-5000", 1000);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 1000u);
  r = choose_range(" bytes=5 - 9 ", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.length, 5u);
}

TEST(ByteRangeTest, PastTheEndIsUnsatisfiable) {
  EXPECT_EQ(choose_range("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(choose_range("bytes=5000-6000", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(choose_range("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(choose_range("bytes=0-", 0).kind, Kind::kUnsatisfiable);
}

TEST(ByteRangeTest, AnythingElseServesTheWholeFile) {
  for (const char* header :
       {"", "bytes=", "bytes=-", "bytes=a-", "bytes=5-3", "bytes=0-1,5-6", "items=0-5",
        "bytes=99999999999999999999-", "bytes=1-2-3", "bytes=0x10-"}) {
    const auto r = choose_range(header, 1000);
    EXPECT_EQ(r.kind, Kind::kWhole) << header;
    EXPECT_EQ(r.length, 1000u) << header;
  }
  EXPECT_EQ(choose_range(std::nullopt, 7).length, 7u);
}

TEST(ArtifactNameTest, PlainFileNamesOnly) {
  for (const std::string& good : {std::string("a"), std::string("app_1.2-3+deb12.deb"),
                                  std::string("A.B"), std::string(128, 'x')}) {
    EXPECT_TRUE(valid_artifact_name(good)) << good;
  }
  for (const std::string& bad :
       {std::string(), std::string(".hidden"), std::string(".."), std::string("../x"),
        std::string("a/b"), std::string("a\\b"), std::string("a b"), std::string("a%2fb"),
        std::string(129, 'x'), std::string("x\0y", 3), std::string("é")}) {
    EXPECT_FALSE(valid_artifact_name(bad)) << bad;
  }
}

// ------------------------------------------------------------------ signing

std::array<std::uint8_t, 32> digest_of(const std::string& data) {
  std::array<std::uint8_t, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

class SignerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SignerTest, TetherdVerifiesWhatTheHubSigns) {
  tether::test::TempDir dir;
  const auto key = plugins::update::test::make_key(dir.path(), GetParam());
  auto signer = ArtifactSigner::load(key.private_key);
  ASSERT_TRUE(signer) << signer.error().message();
  auto verifier = plugins::update::PublicKey::load(key.public_key);
  ASSERT_TRUE(verifier) << verifier.error().message();
  const auto digest = digest_of("the artifact");
  auto signature = signer->sign(digest);
  ASSERT_TRUE(signature) << signature.error().message();
  EXPECT_TRUE(verifier->verify(digest, *signature)) << signer->description();
  auto other = digest;
  other[0] ^= 1U;
  EXPECT_FALSE(verifier->verify(other, *signature));
  auto broken = *signature;
  broken[broken.size() / 2] ^= 0x40U;
  EXPECT_FALSE(verifier->verify(digest, broken));
}

INSTANTIATE_TEST_SUITE_P(EveryKeyType, SignerTest, ::testing::Values("ed25519", "p256", "rsa"));

TEST(SignerLoadTest, RefusesWhatIsNotAUsablePrivateKey) {
  tether::test::TempDir dir;
  const auto p384 = plugins::update::test::make_key(dir.path(), "p384");
  const auto ed = plugins::update::test::make_key(dir.path(), "ed25519");
  plugins::update::test::shell(
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '" +
      (dir.path() / "short.key").string() + "'");
  const auto garbage = dir.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nnope\n");
  struct Case {
    std::filesystem::path path;
    const char* why;
  };
  for (const Case& c : {Case{dir.path() / "missing.key", "cannot be read"},
                        Case{ed.public_key, "not an unencrypted PEM private key"},
                        Case{garbage, "not an unencrypted PEM private key"},
                        Case{p384.private_key, "other than P-256"},
                        Case{dir.path() / "short.key", "shorter than 2048"}}) {
    auto loaded = ArtifactSigner::load(c.path);
    ASSERT_FALSE(loaded) << c.path;
    EXPECT_NE(loaded.error().message().find(c.why), std::string::npos) << loaded.error().message();
    EXPECT_NE(loaded.error().message().find("update.signing-key"), std::string::npos);
  }
}

// ------------------------------------------------------------------ library

void write_file(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(ArtifactLibraryTest, HashesOffTheCallerAndNoticesChanges) {
  tether::test::TempDir dir;
  write_file(dir.path() / "a.bin", "first");
  write_file(dir.path() / ".a.bin.part", "ignored");
  std::filesystem::create_directory(dir.path() / "sub");
  auto library = ArtifactLibrary::open(dir.path(), std::nullopt);
  ASSERT_TRUE(library) << library.error().message();
  (*library)->wait_idle();
  auto list = (*library)->list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "a.bin");
  EXPECT_EQ(list[0].size, 5u);
  EXPECT_EQ(list[0].sha256, sha256_hex("first"));
  EXPECT_TRUE(list[0].signature.empty());
  write_file(dir.path() / "a.bin", "second!");
  write_file(dir.path() / "b.bin", "");
  (*library)->rescan();
  (*library)->wait_idle();
  EXPECT_EQ((*library)->find("a.bin")->sha256, sha256_hex("second!"));
  EXPECT_EQ((*library)->find("b.bin")->sha256, sha256_hex(""));
  std::filesystem::remove(dir.path() / "a.bin");
  (*library)->rescan();
  (*library)->wait_idle();
  EXPECT_FALSE((*library)->find("a.bin"));
  EXPECT_FALSE(ArtifactLibrary::open(dir.path() / "missing", std::nullopt));
}

// ------------------------------------------------------------------ store

class UpdateStoreTest : public ::testing::TestWithParam<test::SqlBackend> {
 protected:
  void SetUp() override {
    auto made = test::SqlTestStore::create(GetParam());
    ASSERT_TRUE(made.ok()) << made.error().message();
    scratch = std::move(*made);
  }
  std::unique_ptr<UpdateStore> open() {
    auto s = UpdateStore::open(scratch->url(), inbox);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
    return s.ok() ? std::move(*s) : nullptr;
  }
  // A completion that counts what it was told.
  UpdateStore::Done count() {
    return [this](const Status& s) {
      if (s.ok()) {
        ++committed;
      } else {
        ++failed;
      }
    };
  }
  static UpdateEntry entry(const std::string& id, std::int64_t created_ms) {
    UpdateEntry e;
    e.id = id;
    e.device = "gw";
    e.artifact = "app.bin";
    e.version = "1.0";
    e.size = 5'000'000'000;  // past 32 bits
    e.sha256 = std::string(64, 'a');
    e.consent = true;
    e.grant_hash = std::string(64, 'b');
    e.created_by = "alice";
    e.created_ms = created_ms;
    e.state = "queued";
    e.updated_ms = created_ms;
    return e;
  }

  std::unique_ptr<test::SqlTestStore> scratch;
  LoopInbox inbox;
  int committed = 0;
  int failed = 0;
};

INSTANTIATE_TEST_SUITE_P(EachBackEnd, UpdateStoreTest, test::kBothSqlBackends,
                         test::sql_backend_name);

TEST_P(UpdateStoreTest, RowsEventsAndCampaignsSurviveAReopen) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    // Same created_ms: loaded in id order, whatever the engine's collation.
    store->save(entry("u-b", 7), UpdateEvent{7, "queued", -1, ""}, count());
    store->save(entry("U-a", 7), std::nullopt, count());
    store->save(entry("u-0", 3), std::nullopt, count());
    UpdateEntry later = entry("u-b", 7);
    later.state = "failure";
    later.percent = 42;
    later.message = "it's \"broken\"";
    later.campaign = "c1";
    later.acked = true;
    later.consent = false;
    store->save(later, UpdateEvent{9, "failure", 42, "tail"}, count());
    store->save(Campaign{"c1", "app.bin", "1.0", true, "alice", 5}, count());
    store->save(Campaign{"c1", "app.bin", "2.0", false, "bob", 6}, count());  // replaces
    store->save(Campaign{"c0", "app.bin", "1.0", false, "bob", 7}, count());
    store->flush();
    EXPECT_EQ(committed, 0) << "completions run on the loop, not the writer";
    inbox.run_pending();
    EXPECT_EQ(committed, 7);
    EXPECT_EQ(failed, 0);
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto updates = store->load_updates();
  ASSERT_TRUE(updates.ok()) << updates.error().message();
  ASSERT_EQ(updates->size(), 3u);
  EXPECT_EQ(updates->at(0).id, "u-0");
  EXPECT_EQ(updates->at(1).id, "U-a");
  const UpdateEntry& b = updates->at(2);
  EXPECT_EQ(b.id, "u-b");
  EXPECT_EQ(b.state, "failure");
  EXPECT_EQ(b.percent, 42);
  EXPECT_EQ(b.message, "it's \"broken\"");
  EXPECT_EQ(b.campaign, "c1");
  EXPECT_TRUE(b.acked);
  EXPECT_FALSE(b.consent);
  EXPECT_EQ(b.size, 5'000'000'000u);
  EXPECT_EQ(b.sha256, std::string(64, 'a'));
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[0].state, "queued");
  EXPECT_EQ(b.events[0].percent, -1);
  EXPECT_EQ(b.events[1].state, "failure");
  EXPECT_EQ(b.events[1].percent, 42);
  EXPECT_EQ(b.events[1].message, "tail");
  EXPECT_TRUE(updates->at(0).events.empty());
  EXPECT_TRUE(updates->at(1).consent);
  EXPECT_FALSE(updates->at(1).acked);
  auto campaigns = store->load_campaigns();
  ASSERT_TRUE(campaigns.ok()) << campaigns.error().message();
  ASSERT_EQ(campaigns->size(), 2u);
  EXPECT_EQ(campaigns->at(0).id, "c1");
  EXPECT_EQ(campaigns->at(0).version, "2.0");
  EXPECT_EQ(campaigns->at(0).created_by, "bob");
  EXPECT_FALSE(campaigns->at(0).consent);
  EXPECT_EQ(campaigns->at(1).id, "c0");  // created later
}

TEST_P(UpdateStoreTest, EventsAreCappedPerUpdateAndEraseForgetsBoth) {
  auto store = open();
  ASSERT_TRUE(store);
  const std::int64_t n = static_cast<std::int64_t>(UpdateStore::kMaxEvents) + 5;
  for (std::int64_t i = 0; i < n; ++i) {
    store->save(entry("long", 1), UpdateEvent{i, "downloading", i % 100, ""}, {});
  }
  store->save(entry("short", 2), UpdateEvent{1, "queued", -1, ""}, {});
  store->flush();
  auto updates = store->load_updates();
  ASSERT_TRUE(updates.ok()) << updates.error().message();
  ASSERT_EQ(updates->size(), 2u);
  const auto& events = updates->at(0).events;
  ASSERT_EQ(events.size(), UpdateStore::kMaxEvents);
  EXPECT_EQ(events.front().at_ms, 5);  // the oldest went
  EXPECT_EQ(events.back().at_ms, n - 1);
  EXPECT_EQ(updates->at(1).events.size(), 1u);
  store->erase("long", count());
  store->flush();
  inbox.run_pending();
  EXPECT_EQ(committed, 1);
  updates = store->load_updates();
  ASSERT_TRUE(updates.ok());
  ASSERT_EQ(updates->size(), 1u);
  EXPECT_EQ(updates->at(0).id, "short");
  EXPECT_EQ(updates->at(0).events.size(), 1u);
  // Saved again after its erase, "long" starts without its old events.
  store->save(entry("long", 1), std::nullopt, {});
  store->flush();
  updates = store->load_updates();
  ASSERT_TRUE(updates.ok());
  ASSERT_EQ(updates->size(), 2u);
  EXPECT_TRUE(updates->at(0).events.empty());
}

// What an instance that did not make an update reads back: by id (with events),
// by download grant, by device (with events), by campaign; campaigns by id, the
// newest ones, and counts per state.
TEST_P(UpdateStoreTest, ReadsByIdGrantDeviceAndCampaign) {
  auto store = open();
  ASSERT_TRUE(store);
  UpdateEntry a = entry("u-a", 5);
  a.campaign = "c1";
  a.grant_hash = std::string(64, '1');
  UpdateEntry b = entry("u-b", 6);
  b.device = "gw2";
  b.campaign = "c1";
  b.grant_hash = std::string(64, '2');
  b.state = "success";
  UpdateEntry c = entry("u-c", 4);
  c.grant_hash = std::string(64, '3');
  store->save(a, UpdateEvent{5, "queued", -1, "offered by alice"}, {});
  store->save(a, UpdateEvent{6, "offered", -1, ""}, {});
  store->save(b, UpdateEvent{6, "queued", -1, ""}, {});
  store->save(c, std::nullopt, {});
  store->save(Campaign{"c1", "app.bin", "1.0", false, "alice", 5}, {});
  store->save(Campaign{"c2", "app.bin", "2.0", false, "alice", 9}, {});
  store->flush();

  auto got = store->get("u-a");
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->device, "gw");
  EXPECT_EQ((*got)->size, 5'000'000'000u);
  ASSERT_EQ((*got)->events.size(), 2u);
  EXPECT_EQ((*got)->events[0].message, "offered by alice");
  EXPECT_EQ((*got)->events[1].state, "offered");
  got = store->get("nope");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());

  auto granted = store->by_grant(std::string(64, '2'));
  ASSERT_TRUE(granted.ok()) << granted.error().message();
  ASSERT_TRUE(granted->has_value());
  EXPECT_EQ((*granted)->id, "u-b");
  EXPECT_EQ((*granted)->state, "success");
  granted = store->by_grant(std::string(64, '9'));
  ASSERT_TRUE(granted.ok());
  EXPECT_FALSE(granted->has_value());

  auto mine = store->of_device("gw");
  ASSERT_TRUE(mine.ok()) << mine.error().message();
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ(mine->at(0).id, "u-c");  // oldest first
  EXPECT_TRUE(mine->at(0).events.empty());
  EXPECT_EQ(mine->at(1).id, "u-a");
  EXPECT_EQ(mine->at(1).events.size(), 2u);
  EXPECT_TRUE(store->of_device("ghost")->empty());
  auto bare = store->of_device("gw", false);
  ASSERT_TRUE(bare.ok()) << bare.error().message();
  ASSERT_EQ(bare->size(), 2u);
  EXPECT_TRUE(bare->at(1).events.empty()) << "asked without events";

  auto in_campaign = store->of_campaign("c1");
  ASSERT_TRUE(in_campaign.ok()) << in_campaign.error().message();
  ASSERT_EQ(in_campaign->size(), 2u);
  EXPECT_EQ(in_campaign->at(0).id, "u-a");
  EXPECT_EQ(in_campaign->at(1).id, "u-b");
  EXPECT_TRUE(in_campaign->at(0).events.empty()) << "campaign rows come without events";

  auto one = store->campaign("c2");
  ASSERT_TRUE(one.ok()) << one.error().message();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->version, "2.0");
  EXPECT_FALSE(store->campaign("c9")->has_value());
  auto recent = store->recent_campaigns(1);
  ASSERT_TRUE(recent.ok()) << recent.error().message();
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ(recent->at(0).id, "c2");
  EXPECT_EQ(store->recent_campaigns(10)->size(), 2u);
  auto counts = store->campaign_counts();
  ASSERT_TRUE(counts.ok()) << counts.error().message();
  const UpdateStore::CampaignCounts expected{{"c1", {{"queued", 1}, {"success", 1}}}};
  EXPECT_EQ(*counts, expected);
}

// Two instances on one store change one update: each writes only its columns.
TEST_P(UpdateStoreTest, ChangesTouchOnlyTheirColumnsAndOnlyFromWhenAsked) {
  auto first = open();
  auto second = open();  // another hub instance on the same store
  ASSERT_TRUE(first && second);
  UpdateEntry e = entry("u", 1);
  e.message = "offered by alice";
  first->save(e, UpdateEvent{1, "queued", -1, "offered by alice"}, {});
  first->flush();

  std::vector<bool> applied;
  auto record = [&](const Status& s, bool changed) {
    EXPECT_TRUE(s.ok()) << s.error().message();
    applied.push_back(changed);
  };
  UpdateChange offer;
  offer.state = "offered";
  offer.grant_hash = std::string(64, '1');
  offer.only_from = "queued";
  offer.updated_ms = 2;
  first->change("u", offer, UpdateEvent{2, "offered", -1, ""}, record);
  first->flush();
  inbox.run_pending();
  offer.grant_hash = std::string(64, '2');  // the other instance delivers it too: too late
  second->change("u", offer, UpdateEvent{2, "offered", -1, "twice"}, record);
  second->flush();
  inbox.run_pending();
  UpdateChange missing;
  missing.state = "failure";
  first->change("ghost", missing, UpdateEvent{3, "failure", -1, ""}, record);
  first->flush();
  inbox.run_pending();
  EXPECT_EQ(applied, (std::vector<bool>{true, false, false}));

  // The instance holding the link records progress (no message: the stored one
  // stays) while the other adds an operator's event and marks it acked.
  UpdateChange progress;
  progress.state = "downloading";
  progress.percent = 40;
  progress.updated_ms = 3;
  second->change("u", progress, UpdateEvent{3, "downloading", 40, ""}, {});
  second->flush();
  first->add_event("u", UpdateEvent{4, "downloading", -1, "cancel asked by bob"}, {});
  first->set_acked("u", {});
  first->flush();
  auto got = second->get("u");
  ASSERT_TRUE(got.ok() && got->has_value());
  const UpdateEntry& u = **got;
  EXPECT_EQ(u.state, "downloading");
  EXPECT_EQ(u.percent, 40);
  EXPECT_EQ(u.updated_ms, 3);
  EXPECT_EQ(u.message, "offered by alice");
  EXPECT_EQ(u.grant_hash, std::string(64, '1')) << "the first delivery's grant stays";
  EXPECT_TRUE(u.acked);
  EXPECT_EQ(u.created_by, "alice");
  ASSERT_EQ(u.events.size(), 4u);  // queued, offered (once), downloading, cancel asked
  EXPECT_EQ(u.events[1].message, "");
  EXPECT_EQ(u.events[3].message, "cancel asked by bob");
}

// With PostgreSQL every store lives in one database: their tables and migration
// records sit side by side (SQLite: files side by side in one directory).
TEST_P(UpdateStoreTest, SharesItsStoreWithTheConfigAndCommandStores) {
  for (int round = 0; round < 2; ++round) {  // the second opens what the first made
    auto updates = open();
    ASSERT_TRUE(updates);
    auto configs = SqlConfigStore::open(scratch->url());
    ASSERT_TRUE(configs.ok()) << configs.error().message();
    auto commands = SqlCommandStore::open(scratch->url());
    ASSERT_TRUE(commands.ok()) << commands.error().message();
    const std::string id = "r" + std::to_string(round);
    updates->save(entry(id, round), std::nullopt, {});
    ConfigVersion v;
    v.version = static_cast<std::uint64_t>(round) + 1;
    (*configs)->put_version("gw", v, {});
    CommandRecord c;
    c.id = id;
    c.device = "gw";
    (*commands)->add(c, {});
    updates->flush();
    ASSERT_TRUE((*configs)->flush().ok());
    ASSERT_TRUE((*commands)->flush().ok());
    EXPECT_EQ(updates->load_updates()->size(), static_cast<std::size_t>(round) + 1);
    EXPECT_EQ((*configs)->history("gw", 10)->size(), static_cast<std::size_t>(round) + 1);
    EXPECT_EQ((*commands)->history("gw", 10)->size(), static_cast<std::size_t>(round) + 1);
  }
}

// PostgreSQL restarts under the store: the next batch reconnects (the store runs
// it once more), and its completion on the loop reports success.
TEST(UpdateStorePostgres, AServerRestartCostsNoWrite) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kPostgres);
  ASSERT_TRUE(made.ok()) << made.error().message();
  LoopInbox inbox;
  auto store = UpdateStore::open((*made)->url(), inbox);
  ASSERT_TRUE(store.ok()) << store.error().message();
  UpdateEntry e;
  e.id = "u1";
  e.state = "queued";
  (*store)->save(e, UpdateEvent{1, "queued", -1, ""}, {});
  (*store)->flush();
  ASSERT_TRUE((*store)->load_updates().ok());
  ASSERT_TRUE((*made)->postgres()->restart().ok());
  std::optional<Status> saved;
  e.state = "success";
  (*store)->save(e, UpdateEvent{2, "success", -1, ""}, [&](const Status& s) { saved = s; });
  (*store)->flush();
  inbox.run_pending();
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->ok()) << saved->error().message();
  auto updates = (*store)->load_updates();
  ASSERT_TRUE(updates.ok()) << updates.error().message();
  ASSERT_EQ(updates->size(), 1u);
  EXPECT_EQ(updates->at(0).state, "success");
  EXPECT_EQ(updates->at(0).events.size(), 2u);
}

// A state dir from before the SQL port: updates.db made by the old code's schema.
TEST(UpdateStoreLegacy, AnOldUpdatesDbOpensWithItsRows) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kSqlite);
  ASSERT_TRUE(made.ok()) << made.error().message();
  const auto& scratch = *made;
  const auto file = std::filesystem::path(scratch->url().sqlite_dir) / "updates.db";
  ASSERT_EQ(testing::write_legacy_sqlite(file, {R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS updates (
  id TEXT PRIMARY KEY, device TEXT NOT NULL, artifact TEXT NOT NULL, version TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, consent INTEGER NOT NULL,
  grant_hash TEXT NOT NULL, campaign TEXT NOT NULL, created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL, state TEXT NOT NULL, percent INTEGER NOT NULL,
  message TEXT NOT NULL, updated_ms INTEGER NOT NULL, acked INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS updates_device ON updates(device, created_ms);
CREATE TABLE IF NOT EXISTS update_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, update_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  state TEXT NOT NULL, percent INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS update_events_id ON update_events(update_id, seq);
CREATE TABLE IF NOT EXISTS update_campaigns (
  id TEXT PRIMARY KEY, artifact TEXT NOT NULL, version TEXT NOT NULL, consent INTEGER NOT NULL,
  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL);
INSERT INTO updates VALUES ('old', 'gw', 'app.bin', '1.0', 13, 'aa', 1, 'bb', '', 'alice', 5,
  'installing', 50, '', 6, 0);
INSERT INTO update_events (update_id, at_ms, state, percent, message)
  VALUES ('old', 5, 'queued', -1, '');
INSERT INTO update_campaigns VALUES ('c', 'app.bin', '1.0', 0, 'alice', 4);
)sql"}),
            "");
  LoopInbox inbox;
  auto store = UpdateStore::open(scratch->url(), inbox);
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto updates = (*store)->load_updates();
  ASSERT_TRUE(updates.ok()) << updates.error().message();
  ASSERT_EQ(updates->size(), 1u);
  EXPECT_EQ(updates->at(0).state, "installing");
  EXPECT_TRUE(updates->at(0).consent);
  ASSERT_EQ(updates->at(0).events.size(), 1u);
  EXPECT_EQ((*store)->load_campaigns()->size(), 1u);
  // A new event goes after the old one.
  UpdateEntry e = updates->at(0);
  e.state = "success";
  (*store)->save(e, UpdateEvent{7, "success", -1, ""}, {});
  (*store)->flush();
  updates = (*store)->load_updates();
  ASSERT_TRUE(updates.ok());
  ASSERT_EQ(updates->at(0).events.size(), 2u);
  EXPECT_EQ(updates->at(0).events.back().state, "success");
}

// ------------------------------------------------------------------ service
// On SQLite: the service does not care which back end holds its store, and
// UpdateStoreTest runs the store itself on both.

class UpdateServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = test::SqlTestStore::create(test::SqlBackend::kSqlite);
    ASSERT_TRUE(made.ok()) << made.error().message();
    scratch = std::move(*made);
    ASSERT_TRUE(store.put_device("gw", "h1", 1));
    ASSERT_TRUE(store.put_device("gw2", "h2", 1));
    devices.set_online("gw", true);
    write_file(arts() / "app.bin", "payload bytes");
    start();
  }
  std::filesystem::path arts() {
    std::filesystem::create_directories(dir.path() / "arts");
    return dir.path() / "arts";
  }
  // (Re)starts the service on the same state dir, as a hub restart would.
  void start() {
    service.reset();
    service = std::make_unique<UpdateService>(context);
    UpdateSettings settings;
    settings.artifact_dir = arts().string();
    ASSERT_TRUE(service->configure(settings, scratch->url(), "https://hub:1"));
    service->library()->wait_idle();
  }
  // Lets the store commit and runs the completions, as the loop would.
  void settle() {
    service->store()->flush();
    inbox.run_pending();
  }
  void progress(const std::string& device, const std::string& id, const std::string& state,
                const std::string& message = "") {
    protocol::UpdateProgress p{id, state, std::nullopt,
                               message.empty() ? std::nullopt : std::optional(message)};
    auto m = protocol::make_msg(protocol::proto::kUpdate, wire::kProgress, {}, {}, p.encode());
    service->on_device_message(device, m);
  }
  std::vector<protocol::ProtoMsg> sent(const std::string& typ) {
    std::vector<protocol::ProtoMsg> out;
    for (auto& m : devices.take("gw")) {
      if (m.hdr.typ == typ) out.push_back(m);
    }
    return out;
  }
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                    Role role = Role::kAdmin) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    auto res = service->handle(r, Caller{"alice", role});
    EXPECT_TRUE(res.has_value()) << path;
    return res.value_or(HttpResponse{});
  }

  tether::test::TempDir dir;
  std::unique_ptr<test::SqlTestStore> scratch;  // where the service keeps its store
  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  testing::MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  LoopInbox inbox;
  testing::FakeDeviceSide devices;
  ServiceRegistry registry;
  OperatorSide operators{devices, registry, limits, log};
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  ServiceContext context{devices,    operators, store,        limits,  log,
                         monitoring, inbox,     config_store, commands};
  std::unique_ptr<UpdateService> service;
};

TEST_F(UpdateServiceTest, OfferGoesOutAfterItsCommitWithAWorkingGrant) {
  auto id = service->offer({"gw", "app.bin", "1.0", true, "alice", ""});
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_TRUE(sent("offer").empty()) << "nothing is sent before the commit";
  settle();
  auto offers = sent("offer");
  ASSERT_EQ(offers.size(), 1u);
  auto offer = protocol::UpdateOffer::decode(offers[0].body);
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->id, *id);
  EXPECT_EQ(offer->size, 13u);
  EXPECT_EQ(offer->sha256, sha256_hex("payload bytes"));
  EXPECT_EQ(offer->consent, std::optional<bool>(true));
  EXPECT_FALSE(offer->signature);
  const std::string prefix = "https://hub:1/artifacts/app.bin?grant=";
  ASSERT_EQ(offer->url.rfind(prefix, 0), 0u) << offer->url;
  const std::string grant = offer->url.substr(prefix.size());
  EXPECT_TRUE(service->authorise_download("app.bin", grant));
  EXPECT_FALSE(service->authorise_download("other.bin", grant));
  EXPECT_FALSE(service->authorise_download("app.bin", std::string(32, '0')));
  EXPECT_FALSE(service->authorise_download("app.bin", ""));
  EXPECT_FALSE(service->authorise_download("../app.bin", grant));
}

TEST_F(UpdateServiceTest, FinalStateIsAckedOnlyAfterTheCommitAndSurvivesARestart) {
  auto id = service->offer({"gw", "app.bin", "", false, "alice", ""});
  ASSERT_TRUE(id);
  settle();
  const auto offer = protocol::UpdateOffer::decode(sent("offer").at(0).body);
  const std::string grant = offer->url.substr(offer->url.find("grant=") + 6);
  progress("gw", *id, wire::kDownloading);
  progress("gw", *id, wire::kInstalling);
  progress("gw", *id, wire::kSuccess, "installer output tail");
  EXPECT_TRUE(sent("ack").empty()) << "no ack before the commit";
  settle();
  auto acks = sent("ack");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(protocol::UpdateAck::decode(acks[0].body)->id, *id);
  EXPECT_FALSE(service->authorise_download("app.bin", grant)) << "the grant ends with the update";
  settle();
  start();  // the hub restarts
  const UpdateEntry* e = service->find(*id);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, wire::kSuccess);
  EXPECT_EQ(e->message, "installer output tail");
  EXPECT_EQ(e->version, "app.bin");
  EXPECT_TRUE(e->acked);
  ASSERT_EQ(e->events.size(), 5u);  // queued, offered, downloading, installing, success
  // The device repeats it (the ack was lost): acked again at once.
  progress("gw", *id, wire::kSuccess, "installer output tail");
  EXPECT_EQ(sent("ack").size(), 1u);
}

TEST_F(UpdateServiceTest, AGrantOutlivesAHubRestartWhileTheUpdateRuns) {
  auto id = service->offer({"gw", "app.bin", "", false, "alice", ""});
  settle();
  const auto offer = protocol::UpdateOffer::decode(sent("offer").at(0).body);
  const std::string grant = offer->url.substr(offer->url.find("grant=") + 6);
  progress("gw", *id, wire::kDownloading);
  settle();
  start();
  EXPECT_TRUE(service->authorise_download("app.bin", grant));
}

TEST_F(UpdateServiceTest, UnknownFinalStatesAreAckedAndGarbageIsAnError) {
  progress("gw", "not-ours", wire::kFailure);
  EXPECT_EQ(sent("ack").size(), 1u);
  progress("gw", "not-ours", wire::kDownloading);
  EXPECT_TRUE(sent("ack").empty());
  auto bad = protocol::make_msg(protocol::proto::kUpdate, wire::kProgress, {}, {}, {0xc1, 0x00});
  service->on_device_message("gw", bad);
  auto errs = devices.take("gw");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].hdr.proto, protocol::proto::kControl);
  auto offer = protocol::make_msg(protocol::proto::kUpdate, wire::kOffer, {}, {}, {});
  service->on_device_message("gw", offer);
  EXPECT_EQ(devices.take("gw").size(), 1u);
}

TEST_F(UpdateServiceTest, OneRunningUpdatePerDeviceAndConsentOnlyWhenAwaited) {
  auto id = service->offer({"gw", "app.bin", "", true, "alice", ""});
  settle();
  auto again = service->offer({"gw", "app.bin", "", true, "alice", ""});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kBusy);
  auto early = service->consent(*id, true, "alice");
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), ErrorCode::kBusy);
  progress("gw", *id, wire::kAwaitingConsent);
  settle();
  devices.take("gw");
  ASSERT_TRUE(service->consent(*id, false, "alice"));
  auto consent = sent("consent");
  ASSERT_EQ(consent.size(), 1u);
  EXPECT_EQ(*protocol::UpdateConsent::decode(consent[0].body),
            (protocol::UpdateConsent{*id, false}));
  EXPECT_FALSE(service->consent("nope", true, "alice"));
}

TEST_F(UpdateServiceTest, OfflineDevicesGetTheirOfferWhenTheyConnect) {
  auto id = service->offer({"gw2", "app.bin", "", false, "alice", ""});
  ASSERT_TRUE(id);
  settle();
  EXPECT_EQ(service->find(*id)->state, "queued");
  EXPECT_TRUE(devices.take("gw2").empty());
  devices.set_online("gw2", true);
  service->on_device_online("gw2");
  settle();
  auto out = devices.take("gw2");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.typ, wire::kOffer);
  EXPECT_EQ(service->find(*id)->state, "offered");
}

TEST_F(UpdateServiceTest, CampaignCountsEveryChosenDevice) {
  auto busy = service->offer({"gw", "app.bin", "", false, "alice", ""});
  settle();
  auto campaign =
      service->create_campaign({"gw", "gw2", "gw2"}, {"", "app.bin", "3", false, "alice", ""});
  ASSERT_TRUE(campaign) << campaign.error().message();
  settle();
  auto res = call("GET", "/api/update-campaigns/" + *campaign, "", Role::kViewer);
  EXPECT_EQ(res.status, 200u);
  // gw is busy with another update: counted as rejected by the hub; gw2 is offline.
  EXPECT_NE(res.body.find("\"counts\":{\"queued\":1,\"rejected\":1}"), std::string::npos)
      << res.body;
  EXPECT_FALSE(service->create_campaign({"gw", "ghost"}, {"", "app.bin", "", false, "a", ""}));
  EXPECT_FALSE(service->create_campaign({}, {"", "app.bin", "", false, "a", ""}));
  (void)busy;
}

TEST_F(UpdateServiceTest, RolesGuardTheRoutes) {
  EXPECT_EQ(call("GET", "/api/updates/artifacts", "", Role::kViewer).status, 200u);
  EXPECT_EQ(call("GET", "/api/devices/gw/updates", "", Role::kViewer).status, 200u);
  EXPECT_EQ(
      call("POST", "/api/devices/gw/updates", R"({"artifact":"app.bin"})", Role::kViewer).status,
      403u);
  EXPECT_EQ(
      call("POST", "/api/update-campaigns", R"({"all":true,"artifact":"app.bin"})", Role::kOperator)
          .status,
      403u);
  auto offered =
      call("POST", "/api/devices/gw/updates", R"({"artifact":"app.bin"})", Role::kOperator);
  EXPECT_EQ(offered.status, 201u) << offered.body;
  const std::string id = service->device_updates("gw").at(0)->id;
  EXPECT_EQ(call("POST", "/api/updates/" + id + "/cancel", "", Role::kViewer).status, 403u);
  EXPECT_EQ(
      call("POST", "/api/updates/" + id + "/consent", R"({"accept":true})", Role::kViewer).status,
      403u);
  EXPECT_EQ(
      call("POST", "/api/update-campaigns", R"({"all":true,"artifact":"app.bin"})", Role::kAdmin)
          .status,
      201u);
  HttpRequest other;
  other.method = "GET";
  other.path = "/api/devices/gw/telemetry";
  EXPECT_FALSE(service->handle(other, Caller{"a", Role::kAdmin})) << "not an update route";
}

TEST_F(UpdateServiceTest, BadBodiesAreClearSentences) {
  struct Case {
    const char* body;
    const char* says;
  };
  for (const Case& c :
       {Case{"", "the body is empty"}, Case{"{\"artifact\":", "not valid JSON"},
        Case{"\xff\xfe", "not valid JSON"}, Case{"42", "must be a JSON object"},
        Case{R"({"artifact":["a"]})", "'artifact' must be a string"},
        Case{R"({"artifact":"app.bin","version":7})", "'version' must be a string"},
        Case{R"({"artifact":"app.bin","consent":1})", "'consent' must be true or false"},
        Case{R"({"artifact":"app.bin","x":1})", "unknown field 'x'"},
        Case{R"({"artifact":"app.bin","version":"\u0001"})", "printable"}}) {
    auto res = call("POST", "/api/devices/gw/updates", c.body, Role::kOperator);
    EXPECT_EQ(res.status, 400u) << c.body;
    EXPECT_NE(res.body.find(c.says), std::string::npos) << c.body << " -> " << res.body;
  }
  const std::string long_version =
      R"({"artifact":"app.bin","version":")" + std::string(129, 'v') + "\"}";
  EXPECT_EQ(call("POST", "/api/devices/gw/updates", long_version, Role::kOperator).status, 400u);
}

// Several instances on one store: `service` (A) is where the operator works, a
// second UpdateService (B) on the same store holds the device's link. B never saw
// the offer made on A, yet takes the device's progress from the store, acks the
// final state after its own commit, serves the download, and delivers what A
// queued for an offline device, once; A answers with what B stored.
class UpdateAcrossInstancesTest : public UpdateServiceTest {
 protected:
  void SetUp() override {
    UpdateServiceTest::SetUp();
    devices_b.set_online("gw", true);
    other = std::make_unique<UpdateService>(context_b);
    UpdateSettings settings;
    settings.artifact_dir = arts().string();
    ASSERT_TRUE(other->configure(settings, scratch->url(), "https://hub-b:1"));
    other->library()->wait_idle();
  }
  void TearDown() override { other.reset(); }
  void settle_both() {
    service->store()->flush();
    other->store()->flush();
    inbox.run_pending();
    service->store()->flush();
    other->store()->flush();
    inbox.run_pending();
  }
  void progress_at_b(const std::string& id, const std::string& state) {
    protocol::UpdateProgress p{id, state, std::nullopt, std::nullopt};
    auto m = protocol::make_msg(protocol::proto::kUpdate, wire::kProgress, {}, {}, p.encode());
    other->on_device_message("gw", m);
  }
  std::vector<protocol::ProtoMsg> sent_by_b(const std::string& device, const std::string& typ) {
    std::vector<protocol::ProtoMsg> out;
    for (auto& m : devices_b.take(device)) {
      if (m.hdr.typ == typ) out.push_back(m);
    }
    return out;
  }

  testing::FakeDeviceSide devices_b;
  ServiceRegistry registry_b;
  OperatorSide operators_b{devices_b, registry_b, limits, log};
  ServiceContext context_b{devices_b,  operators_b, store,        limits,  log,
                           monitoring, inbox,       config_store, commands};
  std::unique_ptr<UpdateService> other;
};

TEST_F(UpdateAcrossInstancesTest, ProgressForAnOfferMadeElsewhereIsAppliedAndAcked) {
  auto id = service->offer({"gw", "app.bin", "", true, "alice", ""});
  ASSERT_TRUE(id) << id.error().message();
  settle_both();
  const auto offer = protocol::UpdateOffer::decode(sent("offer").at(0).body);
  ASSERT_TRUE(offer);
  const std::string grant = offer->url.substr(offer->url.find("grant=") + 6);
  // The download lands on B: the grant is found in the store.
  EXPECT_TRUE(other->authorise_download("app.bin", grant));
  EXPECT_FALSE(other->authorise_download("other.bin", grant));

  progress_at_b(*id, wire::kAwaitingConsent);
  settle_both();
  // The operator on A sees it wait and consents; the message goes to the device.
  ASSERT_NE(service->find(*id), nullptr);
  EXPECT_EQ(service->find(*id)->state, wire::kAwaitingConsent);
  ASSERT_TRUE(service->consent(*id, true, "alice"));
  EXPECT_EQ(sent("consent").size(), 1u);
  progress_at_b(*id, wire::kDownloading);
  progress_at_b(*id, wire::kInstalling);
  progress_at_b(*id, wire::kSuccess);
  EXPECT_TRUE(sent_by_b("gw", "ack").empty()) << "no ack before B's commit";
  settle_both();
  auto acks = sent_by_b("gw", "ack");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(protocol::UpdateAck::decode(acks[0].body)->id, *id);
  EXPECT_TRUE(sent("ack").empty()) << "A does not ack what it did not receive";

  // Both instances answer with the store's state, every event included.
  for (UpdateService* instance : {service.get(), other.get()}) {
    const UpdateEntry* e = instance->find(*id);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->state, wire::kSuccess);
    EXPECT_TRUE(e->acked);
    EXPECT_EQ(e->created_by, "alice");
    // queued, offered, awaiting-consent, accepted, downloading, installing, success
    EXPECT_EQ(e->events.size(), 7u);
    EXPECT_FALSE(instance->authorise_download("app.bin", grant)) << "the grant ends with it";
  }
  auto listed = call("GET", "/api/devices/gw/updates", "", Role::kViewer);
  EXPECT_NE(listed.body.find("\"state\":\"success\""), std::string::npos) << listed.body;
  // A new offer on A is no longer refused as busy.
  EXPECT_TRUE(service->offer({"gw", "app.bin", "", false, "alice", ""}));
}

TEST_F(UpdateAcrossInstancesTest, AnUpdateRunningElsewhereMakesTheDeviceBusy) {
  auto id = other->offer({"gw", "app.bin", "", false, "bob", ""});
  ASSERT_TRUE(id) << id.error().message();
  settle_both();
  auto again = service->offer({"gw", "app.bin", "", false, "alice", ""});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kBusy);
  // Cancelled on A while the device (on B) has not answered: ended for both.
  ASSERT_TRUE(service->cancel(*id, "alice"));
  settle_both();
  EXPECT_EQ(other->find(*id)->state, wire::kCancelled);
  EXPECT_TRUE(service->offer({"gw", "app.bin", "", false, "alice", ""}));
}

TEST_F(UpdateAcrossInstancesTest, AQueuedOfferGoesOutOnceFromWhereTheDeviceConnects) {
  auto id = service->offer({"gw2", "app.bin", "", false, "alice", ""});
  ASSERT_TRUE(id);
  settle_both();
  EXPECT_EQ(other->find(*id)->state, "queued");
  // gw2 connects to B; A learns it is online (the bus) and rescans its folder too.
  devices_b.set_online("gw2", true);
  devices.set_online("gw2", true);
  other->on_device_online("gw2");
  other->store()->flush();  // B's delivery is committed (its completion not run yet)
  service->library()->rescan();
  service->library()->wait_idle();
  inbox.run_pending();  // A's end-of-scan delivery of what it has queued
  settle_both();
  const std::size_t from_b = sent_by_b("gw2", "offer").size();
  const std::size_t from_a = devices.take("gw2").size();
  EXPECT_EQ(from_a + from_b, 1u) << "A sent " << from_a << ", B sent " << from_b;
  EXPECT_EQ(from_b, 1u) << "A read the store before sending";
  EXPECT_EQ(service->find(*id)->state, "offered");
  EXPECT_EQ(other->find(*id)->state, "offered");
}

TEST_F(UpdateAcrossInstancesTest, CampaignsShowTheStoresCountsEverywhere) {
  auto campaign = service->create_campaign({"gw", "gw2"}, {"", "app.bin", "3", false, "alice", ""});
  ASSERT_TRUE(campaign) << campaign.error().message();
  settle_both();
  const auto offer = protocol::UpdateOffer::decode(sent("offer").at(0).body);
  ASSERT_TRUE(offer);
  progress_at_b(offer->id, wire::kFailure);
  settle_both();
  HttpRequest r;
  r.method = "GET";
  for (const std::string& path :
       {std::string("/api/update-campaigns"), "/api/update-campaigns/" + *campaign}) {
    r.path = path;
    for (UpdateService* instance : {service.get(), other.get()}) {
      auto res = instance->handle(r, Caller{"v", Role::kViewer});
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200u) << path;
      EXPECT_NE(res->body.find("\"counts\":{\"failure\":1,\"queued\":1}"), std::string::npos)
          << path << " " << res->body;
    }
  }
}

}  // namespace
}  // namespace tether::hub

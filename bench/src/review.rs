//! `hearth-load review`: the teachers' review page at scale. Fills a database with N messages
//! (a million by default) by 100 students in one room, untimed and kept for the next run; then,
//! with the server pinned to its core, times searches on `/review` against the target (under
//! 100 ms) and samples the server's resident memory while it streams the CSV and JSON exports,
//! which must stay flat whatever N is. Writes `review.md`, and a section of the suite's
//! `report.md` when there is one.
//!
//! The messages go in through the product's own batch statement (`message_batches`), whose
//! triggers keep the room's counts and the trigram search index in step.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use app::names::name_key;
use reqwest::Url;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::hearth;
use crate::measure::{MachineTicks, PeakRss, rss_kib};
use crate::report::Machine;
use crate::suite::{Launch, Running, Server};

#[derive(clap::Args)]
pub struct Args {
    /// Messages in the reviewed room.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Where review.md goes (default: bench/results/<today>, beside the suite's report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The port the server listens on.
    #[arg(long, default_value_t = 3310)]
    port: u16,
    /// The core the server is pinned to (the generator should be on another).
    #[arg(long, default_value = "0")]
    server_cpu: String,
    /// Keep the filled database and the administrator's cookie here, and reuse them next time
    /// if they hold as many messages (filling takes minutes).
    #[arg(long, default_value = "target/bench-review")]
    keep: PathBuf,
}

const ADMIN: &str = "teacher";
const STUDENTS: usize = 100;
const ROOM: &str = "big class";
/// Messages per `message_batches` statement (one transaction each).
const BATCH: usize = 5_000;
const DAY_MS: i64 = 86_400_000;
/// The messages are spread over this many days, up to now.
const DAYS: i64 = 100;
const REPEATS: usize = 21;
const TARGET_MS: f64 = 100.0;

// No word here contains a searched one (nor 作 or 业), so each occurs exactly as often as
// `text` puts it in.
const ENGLISH: &[&str] = &[
    "the", "class", "teacher", "tomorrow", "question", "answer", "friday", "monday", "reading",
    "essay", "chapter", "project", "science", "history", "please", "thanks", "today", "test",
    "quiz", "notes", "library", "page", "group", "idea", "why", "because", "maybe", "done", "help",
    "check", "deadline", "draft", "lab", "plants", "light", "energy", "is", "a", "we", "you",
    "for", "on", "about", "with", "still", "finished", "late", "exam",
];
#[rustfmt::skip]
const CHINESE: &[&str] = &[
    "我们", "明天", "老师", "考试", "问题", "同学", "今天", "上课", "谢谢", "复习",
    "练习", "课本", "图书馆", "星期五", "数学", "语文", "英语", "笔记", "小组", "答案",
];

/// xorshift64*: deterministic, so every run fills the same texts.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        // The high bits of the product: xorshift's low bits alone are visibly uneven.
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % n as u64) as usize
    }
}

/// A sentence of 5–15 English and Chinese words, in which "photosynthesis" occurs in 0.1% of
/// messages, "homework" in 10%, "数学作业" in 1% and "作业" in 5% (those 1% included).
fn text(rng: &mut Rng) -> String {
    let mut special = Vec::new();
    if rng.below(1000) == 0 {
        special.push("photosynthesis");
    }
    if rng.below(10) == 0 {
        special.push("homework");
    }
    match rng.below(100) {
        0 => special.push("数学作业"),
        1..=4 => special.push("作业"),
        _ => {}
    }
    let count = 5 + rng.below(11) - special.len();
    let mut words: Vec<&str> = (0..count)
        .map(|_| match rng.below(3) {
            0 => CHINESE[rng.below(CHINESE.len())],
            _ => ENGLISH[rng.below(ENGLISH.len())],
        })
        .collect();
    for word in special {
        let at = rng.below(words.len() + 1);
        words.insert(at, word);
    }
    words.join(" ")
}

/// Words in one of [`text`]'s sentences as the server counts them (for the per-student
/// summary, the fifth item of a batch's row): each Chinese character is a word.
fn words(text: &str) -> usize {
    let count = |w: &str| if w.is_ascii() { 1 } else { w.chars().count() };
    text.split(' ').map(count).sum()
}

fn sql(error: sqlx::Error) -> String {
    format!("the review's database: {error}")
}

/// One connection to `db` (a commit by a second would empty its page cache).
async fn open(db: &Path) -> Result<SqlitePool, String> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
        .map_err(sql)?
        .journal_mode(SqliteJournalMode::Wal)
        // Filling a benchmark's database: a crash means filling it again.
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-262144");
    let pool = SqlitePoolOptions::new().max_connections(1);
    pool.connect_with(options).await.map_err(sql)
}

/// The room's id, its text messages and the first student's id, if `db` has the room.
async fn filled(db: &Path) -> Option<(i64, i64, i64)> {
    let pool = open(db).await.ok()?;
    let found = sqlx::query_as(
        "SELECT r.id, r.texts, (SELECT id FROM users WHERE username_key = ?2)
         FROM rooms r WHERE r.name_key = ?1",
    )
    .bind(name_key(ROOM))
    .bind(name_key("student001"))
    .fetch_optional(&pool)
    .await;
    pool.close().await;
    found.ok().flatten()
}

/// A fresh database at `db`: the administrator (signed up through the server, which migrates
/// the database; the cookie goes to `cookie`), the students, the room with everyone in it, and
/// `n` messages through `message_batches`.
async fn fill(db: &Path, cookie: &Path, n: usize, port: u16) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let server = Running::start(Server::Hearth, port, Some(db), None, &Launch::default()).await?;
    let session = hearth::session(&hearth::http()?, &server.url, "register", ADMIN).await;
    server.stop().await;
    std::fs::write(cookie, session?).map_err(|e| format!("{}: {e}", cookie.display()))?;

    let pool = open(db).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // Names with their keys, as the server stores them (a name's key is its confusable
    // skeleton).
    let names: Vec<(String, String)> = (1..=STUDENTS)
        .map(|s| format!("student{s:03}"))
        .map(|name| (name_key(&name), name))
        .collect();
    sqlx::query(
        "INSERT INTO users (username, username_key, password_hash, created_at, role)
         SELECT value ->> 1, value ->> 0, 'never signs in', ?2, 'member' FROM json_each(?1)",
    )
    .bind(serde_json::to_string(&names).map_err(|e| e.to_string())?)
    .bind(now)
    .execute(&pool)
    .await
    .map_err(sql)?;
    let room = sqlx::query(
        "INSERT INTO rooms (kind, name, name_key, created_by, created_at, visibility)
         SELECT 'room', ?1, ?3, id, ?2, 'public' FROM users WHERE role = 'admin'",
    )
    .bind(ROOM)
    .bind(now)
    .bind(name_key(ROOM))
    .execute(&pool)
    .await
    .map_err(sql)?
    .last_insert_rowid();
    sqlx::query("INSERT INTO memberships (room_id, user_id) SELECT ?1, id FROM users")
        .bind(room)
        .execute(&pool)
        .await
        .map_err(sql)?;
    let students: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE role = 'member' ORDER BY id")
            .fetch_all(&pool)
            .await
            .map_err(sql)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let step = DAYS * DAY_MS / n as i64;
    for first in (0..n).step_by(BATCH) {
        let rows: Vec<(i64, i64, &str, String, usize)> = (first..n.min(first + BATCH))
            .map(|_| {
                let text = text(&mut rng);
                let words = words(&text);
                (room, students[rng.below(STUDENTS)], "text", text, words)
            })
            .collect();
        // One statement, one transaction: the batch, the room's counts, the search index.
        sqlx::query("INSERT INTO message_batches (rows, sent_at) VALUES (?1, ?2)")
            .bind(serde_json::to_string(&rows).map_err(|e| e.to_string())?)
            .bind(now - DAYS * DAY_MS + first as i64 * step)
            .execute(&pool)
            .await
            .map_err(sql)?;
    }
    pool.close().await;
    Ok(())
}

/// A hash of the server's migrations: a database filled under others is filled again (the
/// server refuses to start on a database whose applied migrations have changed).
fn migrations() -> Result<u64, String> {
    let dir = Path::new("server/migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    Ok(hasher.finish())
}

/// Median, second highest (about p95 of 21) and highest.
fn spread(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    (ms[n / 2], ms[n.saturating_sub(2)], ms[n - 1])
}

/// One export's download: its size, time, and the server's memory around it.
struct Export {
    name: &'static str,
    bytes: u64,
    seconds: f64,
    /// Resident set before, highest while streaming, after; KiB.
    rss: (u64, u64, u64),
}

/// Downloads export `name` as a stream, discarding it, while the server's RSS is sampled;
/// fails unless it has `lines` lines.
async fn export(
    get: reqwest::RequestBuilder,
    name: &'static str,
    pid: u32,
    lines: u64,
) -> Result<Export, String> {
    let before = rss_kib(pid);
    let peak = PeakRss::start(pid);
    let started = Instant::now();
    let download = async {
        let mut response = get.send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(response.status().to_string());
        }
        let (mut bytes, mut seen) = (0u64, 0u64);
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            bytes += chunk.len() as u64;
            seen += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        Ok((bytes, seen))
    }
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak.stop();
    let (bytes, seen) = download.map_err(|e| format!("{name}: {e}"))?;
    if seen != lines {
        return Err(format!("{name}: {seen} lines, expected {lines}"));
    }
    let rss = (before, peak, rss_kib(pid));
    eprintln!("  {name}: {bytes} bytes in {seconds:.1} s, RSS {rss:?} KiB");
    Ok(Export {
        name,
        bytes,
        seconds,
        rss,
    })
}

pub async fn run(args: Args) -> Result<(), String> {
    let n = args.messages;
    if n == 0 {
        return Err("--messages: at least 1".into());
    }
    let keep = |name: &str| args.keep.join(name);
    std::fs::create_dir_all(&args.keep).map_err(|e| format!("{}: {e}", args.keep.display()))?;
    let (db, cookie, stamp_file) = (keep("review.db"), keep("admin.cookie"), keep("filled"));
    // What the kept database was filled for; the fill's time follows on the next line.
    let stamp = format!("{n} messages, migrations {:016x}", migrations()?);
    let kept = std::fs::read_to_string(&stamp_file).unwrap_or_default();
    let fill_time = match (kept.split_once('\n'), filled(&db).await) {
        (Some((kept, took)), Some((_, texts, _)))
            if kept == stamp && texts == n as i64 && cookie.exists() =>
        {
            eprintln!(
                "reusing the {n} messages in {} (filled in {took})",
                db.display()
            );
            format!("{took} in an earlier run")
        }
        _ => {
            eprintln!("filling {} with {n} messages (untimed)…", db.display());
            let started = Instant::now();
            fill(&db, &cookie, n, args.port).await?;
            let took = format!("{:.0} s", started.elapsed().as_secs_f64());
            eprintln!("  filled in {took}");
            let _ = std::fs::write(&stamp_file, format!("{stamp}\n{took}"));
            took
        }
    };
    let (room, _, student) = filled(&db).await.ok_or("the room is missing")?;
    let db_bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    eprintln!("  database: {:.0} MB", db_bytes as f64 / 1e6);

    let cpu = Some(args.server_cpu.as_str());
    let ticks = MachineTicks::read();
    let server = Running::start(
        Server::Hearth,
        args.port,
        Some(&db),
        cpu,
        &Launch::default(),
    )
    .await?;
    let measured = measure(&server, room, student, n, &cookie).await;
    server.stop().await;
    let (searches, exports) = measured?;
    let steal = MachineTicks::read().steal_percent_since(&ticks);

    let out = match args.out {
        Some(out) => out,
        None => PathBuf::from("bench/results").join(crate::today()?),
    };
    let summary = format!(
        "{} text messages by {STUDENTS} students in one public room over {DAYS} days, stored \
         through `message_batches` ({BATCH} a statement); database {:.0} MB; filled in \
         {fill_time} (untimed). The hypervisor took {steal:.0}% of the machine's time while \
         this measured (steal).",
        grouped(n as u64),
        db_bytes as f64 / 1e6
    );
    let path = write(
        &out,
        &Machine::read(&args.server_cpu),
        n,
        &summary,
        &searches,
        &exports,
    )?;
    eprintln!("report: {}", path.display());
    Ok(())
}

type Searches = Vec<(&'static str, (f64, f64, f64))>;

/// The timed part, against the running server.
async fn measure(
    server: &Running,
    room: i64,
    student: i64,
    n: usize,
    cookie_file: &Path,
) -> Result<(Searches, Vec<Export>), String> {
    let client = hearth::http()?;
    let request = |path: &str, filters: &[(&str, String)], cookie: &str| {
        let mut params = vec![("room", room.to_string())];
        params.extend_from_slice(filters);
        let url = Url::parse_with_params(&format!("{}{path}", server.url), params);
        url.map(|url| client.get(url).header("cookie", cookie))
            .map_err(|e| e.to_string())
    };
    // The whole page read, or the status that refused it.
    let timed = |get: reqwest::RequestBuilder| async move {
        let started = Instant::now();
        let response = get.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.bytes().await.map_err(|e| e.to_string())?;
        match status {
            reqwest::StatusCode::OK => Ok(started.elapsed().as_secs_f64() * 1e3),
            _ => Err(format!("answered {status}")),
        }
    };
    let q = |words: &str| vec![("q", words.to_owned())];
    // Warm-up; the kept session may have expired (after 30 days): sign in again.
    let mut cookie = std::fs::read_to_string(cookie_file).map_err(|e| e.to_string())?;
    if timed(request("/review", &q("homework"), &cookie)?)
        .await
        .is_err()
    {
        cookie = hearth::session(&client, &server.url, "login", ADMIN).await?;
        std::fs::write(cookie_file, &cookie).map_err(|e| e.to_string())?;
        timed(request("/review", &q("homework"), &cookie)?).await?;
    }
    let queries = [
        ("rare English: photosynthesis (0.1%)", q("photosynthesis")),
        ("common English: homework (10%)", q("homework")),
        ("two words: homework friday", q("homework friday")),
        ("Chinese, 4 characters: 数学作业 (1%)", q("数学作业")),
        ("Chinese, 2 characters: 作业 (5%, LIKE)", q("作业")),
        (
            "Chinese, 2 characters in no message: 物理 (LIKE)",
            q("物理"),
        ),
        // Without words the page also sums up the whole room by student.
        ("no words: the first page, with Students", vec![]),
        (
            "author filter: student001, with Students",
            vec![("author", student.to_string())],
        ),
    ];
    let mut searches = Vec::new();
    for (label, filters) in queries {
        let mut ms = Vec::with_capacity(REPEATS);
        for _ in 0..REPEATS {
            let get = request("/review", &filters, &cookie)?;
            ms.push(timed(get).await.map_err(|e| format!("{label}: {e}"))?);
        }
        let (median, p95, max) = spread(ms);
        eprintln!("  {label}: median {median:.1} ms, p95 {p95:.1}, max {max:.1}");
        searches.push((label, (median, p95, max)));
    }
    // A line per message, and the CSV's header or the JSON array's brackets.
    let mut exports = Vec::new();
    for (name, lines) in [("export.csv", n as u64 + 1), ("export.json", n as u64 + 2)] {
        let get = request(&format!("/review/{name}"), &[], &cookie)?;
        exports.push(export(get, name, server.pid(), lines).await?);
    }
    Ok((searches, exports))
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// `n` with its thousands separated: 1,000,000.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Writes `review.md` into `out` and, if the suite's `report.md` is there, its review section.
fn write(
    out: &Path,
    machine: &Machine,
    n: usize,
    summary: &str,
    searches: &Searches,
    exports: &[Export],
) -> Result<PathBuf, String> {
    let hearth = machine.versions.first().map_or("unknown", |v| v.1.as_str());
    let n = grouped(n as u64);
    let mut md = format!(
        "# Review at {n} messages\n\n{}; {}, {} cores, {}, Linux {}; server pinned to core {}; \
         Hearth {hearth}.\n\n{summary}\n\n\
         Each query: {REPEATS} sequential `GET /review?room=…` as the administrator, timed to \
         the last byte of the page (the first 100 matches). The target: under {TARGET_MS} ms \
         (the median).\n\n\
         | Query | Median ms | p95 ms (2nd highest) | Max ms | Under {TARGET_MS} ms? |\n\
         |---|---|---|---|---|\n",
        machine.date,
        machine.cpu,
        machine.cores,
        machine.memory,
        machine.kernel,
        machine.server_cpu
    );
    for (label, (median, p95, max)) in searches {
        let met = if *median < TARGET_MS { "yes" } else { "**no**" };
        let _ = writeln!(
            md,
            "| {label} | {median:.1} | {p95:.1} | {max:.1} | {met} |"
        );
    }
    md.push_str(
        "\nExports of the whole room, read as a stream and discarded, while the server's \
         resident memory (VmRSS) is sampled every 50 ms.\n\n\
         | Export | Bytes | Seconds | MB/s | RSS before MiB | Peak MiB | After MiB |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for e in exports {
        let rate = e.bytes as f64 / 1e6 / e.seconds.max(1e-9);
        let (before, peak, after) = (mib(e.rss.0), mib(e.rss.1), mib(e.rss.2));
        let (name, bytes, seconds) = (e.name, grouped(e.bytes), e.seconds);
        let _ = writeln!(
            md,
            "| {name} | {bytes} | {seconds:.1} | {rate:.0} | {before} | {peak} | {after} |"
        );
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join("review.md");
    std::fs::write(&path, md).map_err(|e| format!("{}: {e}", path.display()))?;

    let suite = out.join("report.md");
    if let Ok(report) = std::fs::read_to_string(&suite) {
        let slowest = searches.iter().max_by(|a, b| a.1.0.total_cmp(&b.1.0));
        let (label, (median, ..)) = slowest.ok_or("no searches")?;
        let growth = exports
            .iter()
            .map(|e| e.rss.1.saturating_sub(e.rss.0))
            .max();
        let section = format!(
            "## Review at {n} messages\n\n[review.md](review.md): the slowest search answers in \
             {median:.1} ms (median; {label}); exporting every message raised the server's \
             memory by at most {} MiB.\n",
            mib(growth.unwrap_or(0))
        );
        std::fs::write(&suite, with_section(&report, &section))
            .map_err(|e| format!("{}: {e}", suite.display()))?;
    }
    Ok(path)
}

/// `report` with `section` in place of its review section (the last), or after it.
fn with_section(report: &str, section: &str) -> String {
    let before = report.split("\n## Review at ").next().unwrap_or(report);
    format!("{}\n\n{section}", before.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_searched_words_occur_as_often_as_planned() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let texts: Vec<String> = (0..200_000).map(|_| text(&mut rng)).collect();
        let share = |word: &str| {
            texts.iter().filter(|t| t.contains(word)).count() as f64 / texts.len() as f64
        };
        for (word, expected) in [
            ("photosynthesis", 0.001),
            ("homework", 0.10),
            ("数学作业", 0.01),
            ("作业", 0.05),
        ] {
            let got = share(word);
            assert!((got / expected - 1.0).abs() < 0.15, "{word}: {got}");
        }
        let count = |t: &String| t.split(' ').count();
        assert!(texts.iter().all(|t| (5..=15).contains(&count(t))));
        assert_eq!(words("homework 数学作业 the 图书馆"), 9);
    }

    #[test]
    fn the_review_section_replaces_the_last_one() {
        let report = "# Report\n\n## Targets\n\nmet\n";
        let once = with_section(report, "## Review at 5 messages\n\nfast\n");
        assert_eq!(once, format!("{report}\n## Review at 5 messages\n\nfast\n"));
        let twice = with_section(&once, "## Review at 6 messages\n\nfaster\n");
        assert_eq!(
            twice,
            format!("{report}\n## Review at 6 messages\n\nfaster\n")
        );
    }

    #[test]
    fn the_spread_is_the_median_the_second_highest_and_the_highest() {
        let ms = (1..=21).rev().map(f64::from).collect();
        assert_eq!(spread(ms), (11.0, 20.0, 21.0));
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(999), "999");
    }
}

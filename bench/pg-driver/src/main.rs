//! The write path of `crm.lead.contact.add` on PostgreSQL, through two drivers: lock the
//! owner row, read its binding set, upsert one binding, demote the old primary, mirror the
//! primary into the owner, commit. Sequential and with 8 concurrent clients on one pool.
//!
//! Usage: cargo run --release -- [postgres URL of a server]   (default
//! postgres://postgres@127.0.0.1:5432/postgres). A fresh database is created and dropped.

use std::time::{Duration, Instant};

const LEADS: i64 = 200;
const CONTACTS: i64 = 1000;
const RUN: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE crm_lead (ID BIGSERIAL PRIMARY KEY, TITLE TEXT, CONTACT_ID BIGINT);
CREATE TABLE crm_binding (KIND TEXT NOT NULL, OWNER_ID BIGINT NOT NULL, BOUND_ID BIGINT NOT NULL,
  SORT BIGINT NOT NULL, ROLE_ID BIGINT NOT NULL DEFAULT 0, IS_PRIMARY TEXT NOT NULL,
  PRIMARY KEY (KIND, OWNER_ID, BOUND_ID));
CREATE UNIQUE INDEX one_primary ON crm_binding (KIND, OWNER_ID) WHERE IS_PRIMARY = 'Y';
INSERT INTO crm_lead (TITLE) SELECT 'L' || i FROM generate_series(1, 200) i;
";

const LOCK: &str = "SELECT ID FROM crm_lead WHERE ID = $1 FOR UPDATE";
const LOAD: &str =
    "SELECT BOUND_ID, SORT, IS_PRIMARY FROM crm_binding WHERE KIND = 'lead_contact' AND OWNER_ID = $1 ORDER BY SORT, BOUND_ID";
const DEMOTE: &str =
    "UPDATE crm_binding SET IS_PRIMARY = 'N' WHERE KIND = 'lead_contact' AND OWNER_ID = $1 AND IS_PRIMARY = 'Y'";
const UPSERT: &str = "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, IS_PRIMARY) VALUES ('lead_contact', $1, $2, $3, 'Y')
  ON CONFLICT (KIND, OWNER_ID, BOUND_ID) DO UPDATE SET SORT = excluded.SORT, IS_PRIMARY = excluded.IS_PRIMARY";
const MIRROR: &str = "UPDATE crm_lead SET CONTACT_ID = $2 WHERE ID = $1";

fn pick(i: u64) -> (i64, i64) {
    let x = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((x >> 33) as i64 % LEADS + 1, (x >> 13) as i64 % CONTACTS + 1)
}

async fn tokio_postgres_tx(pool: &deadpool_postgres::Pool, i: u64) {
    let (lead, contact) = pick(i);
    let mut client = pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let lock = tx.prepare_cached(LOCK).await.unwrap();
    let load = tx.prepare_cached(LOAD).await.unwrap();
    let demote = tx.prepare_cached(DEMOTE).await.unwrap();
    let upsert = tx.prepare_cached(UPSERT).await.unwrap();
    let mirror = tx.prepare_cached(MIRROR).await.unwrap();
    tx.query_one(&lock, &[&lead]).await.unwrap();
    let set = tx.query(&load, &[&lead]).await.unwrap();
    let sort = set.iter().map(|r| r.get::<_, i64>(1)).max().unwrap_or(0) + 10;
    tx.execute(&demote, &[&lead]).await.unwrap();
    tx.execute(&upsert, &[&lead, &contact, &sort]).await.unwrap();
    tx.execute(&mirror, &[&lead, &contact]).await.unwrap();
    tx.commit().await.unwrap();
}

async fn sqlx_tx(pool: &sqlx::PgPool, i: u64) {
    let (lead, contact) = pick(i);
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(LOCK).bind(lead).fetch_one(&mut *tx).await.unwrap();
    let set: Vec<(i64, i64, String)> = sqlx::query_as(LOAD).bind(lead).fetch_all(&mut *tx).await.unwrap();
    let sort = set.iter().map(|r| r.1).max().unwrap_or(0) + 10;
    sqlx::query(DEMOTE).bind(lead).execute(&mut *tx).await.unwrap();
    sqlx::query(UPSERT).bind(lead).bind(contact).bind(sort).execute(&mut *tx).await.unwrap();
    sqlx::query(MIRROR).bind(lead).bind(contact).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// Runs `one` for RUN with `clients` concurrent callers; transactions per second.
async fn measure<F, Fut>(clients: u64, one: F) -> f64
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < RUN {
                one(c * 1_000_000_000 + n).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("crm_driver_bench_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    let url = format!("{}/{db}", server.rsplit_once('/').unwrap().0);
    {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(SCHEMA).await.unwrap();
    }

    let cfg: tokio_postgres::Config = url.parse().unwrap();
    let mgr = deadpool_postgres::Manager::new(cfg, tokio_postgres::NoTls);
    let tp = deadpool_postgres::Pool::builder(mgr).max_size(8).build().unwrap();
    let sq = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(&url).await.unwrap();

    println!("| driver | clients | transactions/s |");
    println!("|---|---|---|");
    for clients in [1, 8] {
        let p = tp.clone();
        let t = measure(clients, move |i| {
            let p = p.clone();
            async move { tokio_postgres_tx(&p, i).await }
        })
        .await;
        println!("| tokio-postgres 0.7 + deadpool-postgres | {clients} | {t:.0} |");
        let p = sq.clone();
        let s = measure(clients, move |i| {
            let p = p.clone();
            async move { sqlx_tx(&p, i).await }
        })
        .await;
        println!("| sqlx 0.9 (postgres) | {clients} | {s:.0} |");
    }
    drop(tp);
    sq.close().await;
    admin.batch_execute(&format!("DROP DATABASE {db}")).await.unwrap();
}

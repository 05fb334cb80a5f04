//! Which backend a test runs on: SQLite in the test's folder, or, when `HEARTH_TEST_DATABASE`
//! names a PostgreSQL server (set by `make test`'s PostgreSQL step, scripts/pg-cluster.sh), a
//! fresh schema of its own in that database, so that tests running at once never see each
//! other's rows.

use std::path::Path;
use std::sync::Arc;

use hearth_server::store::{PostgresStore, SqliteStore, Store};

/// The PostgreSQL server of this run, if any.
pub fn pg_url() -> Option<String> {
    std::env::var("HEARTH_TEST_DATABASE")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A new, empty schema in the database at `url`; returns the address that uses it.
pub fn fresh_schema(url: &str) -> String {
    let url = url.to_string();
    // The postgres client blocks on a runtime of its own: off any test runtime's thread.
    std::thread::spawn(move || {
        let name = format!(
            "t_{}",
            uuid::Uuid::from_u128(rand::random::<u128>()).simple()
        );
        let mut c = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("HEARTH_TEST_DATABASE={url}: {e}"));
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        format!("{url} options=-csearch_path={name}")
    })
    .join()
    .unwrap()
}

/// The store a test's service runs on (see the module documentation). The PostgreSQL schema
/// belongs to the folder (its address is kept in `pg-url` there): a service opened again on the
/// same folder, as after a restart, finds the same database.
pub fn test_store(dir: &Path) -> Arc<dyn Store> {
    match pg_url() {
        Some(url) => {
            let file = dir.join("pg-url");
            let schema = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(_) => {
                    let s = fresh_schema(&url);
                    std::fs::write(&file, &s).unwrap();
                    s
                }
            };
            Arc::new(PostgresStore::open(&schema, 4).unwrap())
        }
        None => Arc::new(SqliteStore::open(&dir.join("hearth.db")).unwrap()),
    }
}

/// Runs an operator's SQL on the test's database behind the service's back: `sqlite` on the
/// folder's file, or `postgres` on its schema.
pub fn operator_sql(dir: &Path, sqlite: &str, postgres: &str) {
    match std::fs::read_to_string(dir.join("pg-url")) {
        Ok(url) => {
            let sql = postgres.to_string();
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.batch_execute(&sql).unwrap();
            })
            .join()
            .unwrap();
        }
        Err(_) => {
            let db = rusqlite::Connection::open(dir.join("hearth.db")).unwrap();
            db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            db.execute_batch(sqlite).unwrap();
        }
    }
}

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

/// The store a test's service runs on (see the module documentation).
pub fn test_store(dir: &Path) -> Arc<dyn Store> {
    match pg_url() {
        Some(url) => Arc::new(PostgresStore::open(&fresh_schema(&url), 4).unwrap()),
        None => Arc::new(SqliteStore::open(&dir.join("hearth.db")).unwrap()),
    }
}

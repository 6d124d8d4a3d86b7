//! Each fault test's own DynamoDB Local and redis-server, started, frozen, killed and
//! restarted through the `stack` crate (the same code every make target runs the stores with).

use super::*;

/// DynamoDB Local and redis-server of one test, in a folder of its own.
pub(crate) struct Stack {
    pub(crate) dir: PathBuf,
    pub(crate) dynamodb_at: ::stack::DynamoDb,
    pub(crate) redis_at: ::stack::Redis,
    pub(crate) dynamodb: ::stack::Server,
    pub(crate) redis: ::stack::Server,
}

impl Stack {
    /// Both stores on free ports; DynamoDB Local keeps its data in `dir/dynamodb` when
    /// `persistent` (so a restart finds it), in memory otherwise.
    pub(crate) async fn up(name: &str, persistent: bool) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "faults-{name}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir_all(&dir).expect("the test folder is created");
        let ddb_port = ::stack::free_port(8700..8800).expect("a free port for DynamoDB Local");
        let redis_port = ::stack::free_port(6390..6490).expect("a free port for Redis");
        let mut dynamodb_at = ::stack::DynamoDb::new(ddb_port);
        if persistent {
            dynamodb_at = dynamodb_at.data_folder(dir.join("dynamodb"));
        }
        let redis_at = ::stack::Redis::new(redis_port).dir(&dir);
        let dynamodb = dynamodb_at
            .spawn(dir.join("dynamodb.log"))
            .expect("DynamoDB Local starts (cargo run -p stack -- deps installs it)");
        let redis = redis_at
            .spawn(dir.join("redis.log"))
            .expect("redis-server starts");
        let mut stack = Stack {
            dir,
            dynamodb_at,
            redis_at,
            dynamodb,
            redis,
        };
        stack.wait_redis().await;
        stack.wait_dynamodb().await;
        stack
    }

    pub(crate) fn redis_url(&self) -> String {
        self.redis_at.url()
    }

    pub(crate) fn dynamodb_url(&self) -> String {
        self.dynamodb_at.url()
    }

    /// Starts redis-server again on its port, empty (it never persists), and waits for it.
    pub(crate) async fn restart_redis(&mut self) -> Duration {
        self.redis.restart().expect("redis-server starts again");
        self.wait_redis().await
    }

    /// Starts DynamoDB Local again on its port and data folder, and waits for it.
    pub(crate) async fn restart_dynamodb(&mut self) -> Duration {
        self.dynamodb
            .restart()
            .expect("DynamoDB Local starts again");
        self.wait_dynamodb().await
    }

    /// Until it answers PING.
    pub(crate) async fn wait_redis(&mut self) -> Duration {
        self.redis
            .wait_ready_async(Duration::from_secs(30))
            .await
            .expect("redis answers")
    }

    /// Until it answers HTTP at all.
    pub(crate) async fn wait_dynamodb(&mut self) -> Duration {
        self.dynamodb
            .wait_ready_async(Duration::from_secs(90))
            .await
            .expect("DynamoDB Local answers")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The servers kill themselves when dropped; the folder goes with them.
        let _ = self.dynamodb.kill();
        let _ = self.redis.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

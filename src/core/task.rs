//! A denied task-augmented call (2025-11-25 `tools/call` with `params.task`) expects a
//! `CreateTaskResult`, not a tool result. countersign answers with a task of its own that
//! has already failed, and answers `tasks/get`, `tasks/result` and `tasks/cancel` for it
//! (schema 2025-11-25: `Task`, `CreateTaskResult`; tasks.mdx: a tool call whose result is
//! an error moves the task to `failed`).

use serde_json::{json, Value};

use super::protocol::Id;

/// The prefix of task ids countersign owns.
pub const PREFIX: &str = "countersign-denied-";

/// One failed task: its `Task` object and the tool result `tasks/result` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct DeniedTask {
    pub task: Value,
    pub result: Value,
}

impl DeniedTask {
    pub fn new(task_id: &str, now_rfc3339: &str, denial_text: &str) -> DeniedTask {
        let task = json!({
            "taskId": task_id,
            "status": "failed",
            "statusMessage": denial_text,
            "createdAt": now_rfc3339,
            "lastUpdatedAt": now_rfc3339,
            "ttl": null,
        });
        let result = json!({
            "content": [{"type": "text", "text": denial_text}],
            "isError": true,
            "_meta": {"io.modelcontextprotocol/related-task": {"taskId": task_id}},
        });
        DeniedTask { task, result }
    }

    /// The answer to the `tools/call` itself.
    pub fn created(&self, id: &Id) -> String {
        response(id, json!({ "task": self.task }))
    }

    /// The answer to a `tasks/*` request about this task.
    pub fn answer(&self, id: &Id, method: &str) -> String {
        match method {
            "tasks/get" => response(id, self.task.clone()),
            "tasks/result" => response(id, self.result.clone()),
            _ => super::protocol::error_response(
                Some(id),
                super::protocol::code::INVALID_PARAMS,
                "the task already failed: countersign denied the call",
            ),
        }
    }
}

/// The `taskId` a `tasks/get|result|cancel` request names, when it is one of ours.
pub fn owned_task_id(params: Option<&super::json::Value<'_>>) -> Option<String> {
    let id = params?.get("taskId")?.as_str()?;
    id.starts_with(PREFIX).then(|| id.to_owned())
}

fn response(id: &Id, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id.to_json_value(), "result": result}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_task_has_failed_and_answers_for_itself() {
        let t = DeniedTask::new("countersign-denied-1", "2026-11-23T00:00:00.000000Z", "countersign denied x: ...");
        let id = Id::Number("7".into());
        let created: Value = serde_json::from_str(&t.created(&id)).unwrap();
        assert_eq!(created["result"]["task"]["status"], "failed");
        assert_eq!(created["result"]["task"]["taskId"], "countersign-denied-1");
        let got: Value = serde_json::from_str(&t.answer(&id, "tasks/get")).unwrap();
        assert_eq!(got["result"]["status"], "failed");
        let result: Value = serde_json::from_str(&t.answer(&id, "tasks/result")).unwrap();
        assert_eq!(result["result"]["isError"], true);
        assert_eq!(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], "countersign-denied-1");
        let cancel: Value = serde_json::from_str(&t.answer(&id, "tasks/cancel")).unwrap();
        assert_eq!(cancel["error"]["code"], -32602);
    }

    #[test]
    fn only_our_task_ids_are_ours() {
        let p = crate::core::json::parse(br#"{"taskId":"countersign-denied-abc"}"#).unwrap();
        assert_eq!(owned_task_id(Some(&p)).as_deref(), Some("countersign-denied-abc"));
        let p = crate::core::json::parse(br#"{"taskId":"7957801a"}"#).unwrap();
        assert_eq!(owned_task_id(Some(&p)), None);
    }
}

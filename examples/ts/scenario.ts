// The Aether scenario in TypeScript on Node (@aether-dev/api from gen/ts, connect-node's
// gRPC transport): register, log in, read the caller, create/list/get/update/complete a
// task, then a NOT_FOUND and an INVALID_ARGUMENT whose google.rpc.BadRequest is read with
// findDetails. Prints every result as proto3 JSON (tests/contract compares the languages).
//
//   npx tsc -p examples/ts && AETHER_ADDR=127.0.0.1:50051 AETHER_EMAIL=ada@example.com \
//     node examples/ts/dist/scenario.js
import { createRegistry, toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AuthService,
  LoginResponseSchema,
  RegisterResponseSchema,
} from "@aether-dev/api/aether/auth/v1/auth_service_pb";
import { UserSchema } from "@aether-dev/api/aether/auth/v1/user_pb";
import { TaskSchema } from "@aether-dev/api/aether/tasks/v1/task_pb";
import {
  CompleteTaskResponseSchema,
  ListTasksResponseSchema,
  TaskService,
} from "@aether-dev/api/aether/tasks/v1/tasks_service_pb";
import { BadRequestSchema, file_google_rpc_error_details } from "@aether-dev/api/google/rpc/error_details_pb";

// The detail types the server sends (google.rpc.BadRequest, ErrorInfo, ...).
const details = createRegistry(file_google_rpc_error_details);
const steps: Record<string, unknown> = {};

async function step<Desc extends DescMessage>(name: string, schema: Desc, call: () => Promise<MessageShape<Desc>>) {
  try {
    const message = await call();
    steps[name] = { ok: toJson(schema, message, { alwaysEmitImplicit: true }) };
    return message;
  } catch (err) {
    const error = ConnectError.from(err);
    const decoded = error.findDetails(details).map((detail) => ({
      "@type": `type.googleapis.com/${detail.$typeName}`,
      ...(toJson(details.getMessage(detail.$typeName)!, detail) as object),
    }));
    steps[name] = { error: { code: error.code, message: error.rawMessage, details: decoded } };
    for (const bad of error.findDetails(BadRequestSchema)) {
      for (const violation of bad.fieldViolations) console.error(`${name}: ${violation.field}: ${violation.description}`);
    }
    return undefined;
  }
}

async function main() {
  const email = process.env.AETHER_EMAIL!;
  const transport = createGrpcTransport({ baseUrl: `http://${process.env.AETHER_ADDR}` });
  const auth = createClient(AuthService, transport);
  const tasks = createClient(TaskService, transport);
  const password = "Correct-Horse-Battery-9";
  const timeoutMs = 30_000;

  await step("register", RegisterResponseSchema, () => auth.register({ email, password, name: "Ada" }, { timeoutMs }));
  const login = await step("login", LoginResponseSchema, () => auth.login({ email, password }, { timeoutMs }));
  if (!login) throw new Error("login failed");
  const call = { timeoutMs, headers: { authorization: `Bearer ${login.accessToken}` } };
  await step("me", UserSchema, () => auth.getMe({}, call));

  const task = await step("create", TaskSchema, () =>
    tasks.createTask({ title: "Write the contract suite", description: "every language", priority: "high", tags: ["api"] }, call),
  );
  if (!task) throw new Error("create failed");
  await step("list", ListTasksResponseSchema, () => tasks.listTasks({}, call));
  await step("get", TaskSchema, () => tasks.getTask({ id: task.id }, call));
  await step("update", TaskSchema, () =>
    tasks.updateTask({ id: task.id, title: "Write the contract suite (v2)", status: "in_progress" }, call),
  );
  await step("complete", CompleteTaskResponseSchema, () => tasks.completeTask({ id: task.id }, call));
  await step("not_found", TaskSchema, () => tasks.getTask({ id: "00000000-0000-4000-8000-000000000000" }, call));
  await step("invalid_argument", TaskSchema, () => tasks.createTask({ title: "" }, call));
  console.log(JSON.stringify(steps));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

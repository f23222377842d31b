// The Aether scenario in Go (grpc-go and the gen/go module): register, log in, read the
// caller, create/list/get/update/complete a task, then a NOT_FOUND and an INVALID_ARGUMENT
// whose google.rpc.BadRequest details are decoded. Prints every result as proto3 JSON
// (tests/contract compares it with the other languages).
//
//	cd examples/go && AETHER_ADDR=127.0.0.1:50051 AETHER_EMAIL=ada@example.com go run .
//
// Module mode offline: go.mod is `aether gen`'s, vendor/ is written by `aether go-vendor`
// from Debian's packages (docs/clients.md).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	authv1 "github.com/aether-dev/aether/gen/go/aether/auth/v1"
	tasksv1 "github.com/aether-dev/aether/gen/go/aether/tasks/v1"
	protov1 "github.com/golang/protobuf/proto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var steps = map[string]json.RawMessage{}

func record(name string, msg proto.Message, err error) {
	if err != nil {
		st := status.Convert(err)
		// genproto's Status is an APIv1 message in grpc-go 1.33; MessageV2 adapts it.
		body, _ := protojson.Marshal(protov1.MessageV2(st.Proto()))
		var decoded map[string]interface{}
		_ = json.Unmarshal(body, &decoded)
		out, _ := json.Marshal(map[string]interface{}{"error": decoded})
		steps[name] = out
		for _, detail := range st.Details() {
			if bad, ok := detail.(*errdetails.BadRequest); ok {
				for _, v := range bad.GetFieldViolations() {
					fmt.Fprintf(os.Stderr, "%s: %s: %s\n", name, v.GetField(), v.GetDescription())
				}
			}
		}
		return
	}
	body, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(msg)
	steps[name] = json.RawMessage(fmt.Sprintf(`{"ok":%s}`, body))
}

func main() {
	addr, email := os.Getenv("AETHER_ADDR"), os.Getenv("AETHER_EMAIL")
	conn, err := grpc.Dial(addr, grpc.WithInsecure(), grpc.WithBlock(), grpc.WithTimeout(10*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	auth, tasks := authv1.NewAuthServiceClient(conn), tasksv1.NewTaskServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const password = "Correct-Horse-Battery-9"
	reg, err := auth.Register(ctx, &authv1.RegisterRequest{Email: email, Password: password, Name: "Ada"})
	record("register", reg, err)
	login, err := auth.Login(ctx, &authv1.LoginRequest{Email: email, Password: password})
	record("login", login, err)
	if err != nil {
		os.Exit(1)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.GetAccessToken())
	me, err := auth.GetMe(ctx, &authv1.GetMeRequest{})
	record("me", me, err)

	task, err := tasks.CreateTask(ctx, &tasksv1.CreateTaskRequest{
		Title: "Write the contract suite", Description: "every language", Priority: "high", Tags: []string{"api"},
	})
	record("create", task, err)
	if err != nil {
		os.Exit(1)
	}
	list, err := tasks.ListTasks(ctx, &tasksv1.ListTasksRequest{})
	record("list", list, err)
	got, err := tasks.GetTask(ctx, &tasksv1.GetTaskRequest{Id: task.GetId()})
	record("get", got, err)
	title, state := "Write the contract suite (v2)", "in_progress"
	updated, err := tasks.UpdateTask(ctx, &tasksv1.UpdateTaskRequest{Id: task.GetId(), Title: &title, Status: &state})
	record("update", updated, err)
	done, err := tasks.CompleteTask(ctx, &tasksv1.CompleteTaskRequest{Id: task.GetId()})
	record("complete", done, err)
	missing, err := tasks.GetTask(ctx, &tasksv1.GetTaskRequest{Id: "00000000-0000-4000-8000-000000000000"})
	record("not_found", missing, err)
	invalid, err := tasks.CreateTask(ctx, &tasksv1.CreateTaskRequest{Title: ""})
	record("invalid_argument", invalid, err)

	out, _ := json.Marshal(steps)
	fmt.Println(string(out))
}

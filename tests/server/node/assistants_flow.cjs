// One Assistants flow through the official Node SDK (openai v4, which has beta.threads):
// create an assistant with a function tool -> stream a run -> requires_action ->
// submitToolOutputsStream -> completed. Prints one JSON line with what it saw.
// Usage: OPENAI_BASE_URL=... OPENAI_API_KEY=... node assistants_flow.cjs /path/to/node_modules/openai
const OpenAI = require(process.argv[2]);

const getTicker = {
  type: "function",
  function: {
    name: "get_ticker",
    description: "Given the name of a company returns its ticker symbol",
    parameters: {
      type: "object",
      properties: { company_name: { type: "string", description: "The name of the company" } },
      required: ["company_name"],
    },
  },
};

async function main() {
  const client = new OpenAI({ maxRetries: 0 });
  const assistant = await client.beta.assistants.create({
    name: "Investor Assistant",
    model: "gpt-4-turbo",
    tools: [getTicker],
  });
  const thread = await client.beta.threads.create({
    messages: [{ role: "user", content: "Should I buy Salesforce?" }],
  });
  const events = [];
  let text = "";
  let stream = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
  stream.on("event", (e) => events.push(e.event));
  let run = await stream.finalRun();
  const asked = [];
  while (run.status === "requires_action") {
    const calls = run.required_action.submit_tool_outputs.tool_calls;
    asked.push(...calls.map((c) => c.function.name));
    stream = client.beta.threads.runs.submitToolOutputsStream(thread.id, run.id, {
      tool_outputs: calls.map((c) => ({ tool_call_id: c.id, output: "Salesforce, Inc. (CRM)" })),
    });
    stream.on("event", (e) => events.push(e.event));
    stream.on("textDelta", (delta) => { text += delta.value; });
    run = await stream.finalRun();
  }
  const messages = await client.beta.threads.messages.list(thread.id, { limit: 1 });
  console.log(JSON.stringify({
    status: run.status,
    asked,
    events,
    text,
    stored: messages.data[0].content[0].text.value,
  }));
}

main().catch((err) => {
  console.error(String(err && err.stack || err));
  process.exit(1);
});

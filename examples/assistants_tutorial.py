"""The Assistants API tutorial's Investor Assistant, as it was written for the hosted API.

Its four functions run here, on the client; the assistant decides when to call them. The
hosted Assistants API is gone; point the program at ``investor-assistant serve``:

    investor-assistant serve &
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any \\
        python examples/assistants_tutorial.py "I want to know if the Salesforce stock is a good buy"

(with keys created on the server, OPENAI_API_KEY is your ``sk-ia-…`` key). Needs ``openai``,
``yfinance`` and ``ddgs`` (the successor of the duckduckgo-search package the tutorial
used through LangChain).
"""

import json
import sys
import time

import openai
import yfinance

# Where yfinance fetches from: None is Yahoo itself (tests hand it a replay session).
YAHOO_SESSION = None


def get_ticker(inputs):
    from ddgs import DDGS

    company_name = inputs["company_name"]
    results = DDGS().text(f"Ticker symbol of {company_name}", max_results=3)
    return " ".join(r.get("body", "") for r in results)


def get_income_statement(inputs):
    ticker = inputs["ticker"]
    stock = yfinance.Ticker(ticker, session=YAHOO_SESSION)
    return json.dumps(stock.income_stmt.to_json())


def get_balance_sheet(inputs):
    ticker = inputs["ticker"]
    stock = yfinance.Ticker(ticker, session=YAHOO_SESSION)
    return json.dumps(stock.balance_sheet.to_json())


def get_daily_stock_performance(inputs):
    ticker = inputs["ticker"]
    stock = yfinance.Ticker(ticker, session=YAHOO_SESSION)
    return json.dumps(stock.history(period="100d").to_json())


functions_map = {
    "get_ticker": get_ticker,
    "get_income_statement": get_income_statement,
    "get_balance_sheet": get_balance_sheet,
    "get_daily_stock_performance": get_daily_stock_performance,
}

functions = [
    {
        "type": "function",
        "function": {
            "name": "get_ticker",
            "description": "Given the name of a company returns its ticker symbol",
            "parameters": {
                "type": "object",
                "properties": {
                    "company_name": {
                        "type": "string",
                        "description": "The name of the company",
                    }
                },
                "required": ["company_name"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_income_statement",
            "description": "Given a ticker symbol (i.e AAPL) returns the company's income statement.",
            "parameters": {
                "type": "object",
                "properties": {
                    "ticker": {
                        "type": "string",
                        "description": "Ticker symbol of the company",
                    },
                },
                "required": ["ticker"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_balance_sheet",
            "description": "Given a ticker symbol (i.e AAPL) returns the company's balance sheet.",
            "parameters": {
                "type": "object",
                "properties": {
                    "ticker": {
                        "type": "string",
                        "description": "Ticker symbol of the company",
                    },
                },
                "required": ["ticker"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_daily_stock_performance",
            "description": "Given a ticker symbol (i.e AAPL) returns the performance of the stock for the last 100 days.",
            "parameters": {
                "type": "object",
                "properties": {
                    "ticker": {
                        "type": "string",
                        "description": "Ticker symbol of the company",
                    },
                },
                "required": ["ticker"],
            },
        },
    },
]


def get_run(run_id, thread_id):
    return client.beta.threads.runs.retrieve(run_id=run_id, thread_id=thread_id)


def send_message(thread_id, content):
    return client.beta.threads.messages.create(thread_id=thread_id, role="user", content=content)


def get_messages(thread_id):
    messages = client.beta.threads.messages.list(thread_id=thread_id)
    messages = list(messages)
    messages.reverse()
    for message in messages:
        print(f"{message.role}: {message.content[0].text.value}")
    return messages


def get_tool_outputs(run_id, thread_id):
    run = get_run(run_id, thread_id)
    outputs = []
    for action in run.required_action.submit_tool_outputs.tool_calls:
        action_id = action.id
        function = action.function
        print(f"Calling function: {function.name} with arg {function.arguments}")
        outputs.append(
            {
                "output": functions_map[function.name](json.loads(function.arguments)),
                "tool_call_id": action_id,
            }
        )
    return outputs


def submit_tool_outputs(run_id, thread_id):
    outputs = get_tool_outputs(run_id, thread_id)
    return client.beta.threads.runs.submit_tool_outputs(
        run_id=run_id, thread_id=thread_id, tool_outputs=outputs
    )


def main(question):
    assistant = client.beta.assistants.create(
        name="Investor Assistant",
        instructions="You help users do research on publicly traded companies and you help users decide if they should buy the stock or not.",
        model="gpt-4-turbo",
        tools=functions,
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    while True:
        run = get_run(run.id, thread.id)
        if run.status == "requires_action":
            submit_tool_outputs(run.id, thread.id)
        elif run.status in ("queued", "in_progress"):
            time.sleep(0.5)
        else:
            break
    print(f"run {run.id}: {run.status}")
    return run, get_messages(thread.id)


client = openai.OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY from the environment

if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "I want to know if the Salesforce stock is a good buy")

// llama.cpp's own answers for a GGUF file, as one JSON line on stdout, for tests/models/test_gguf.py to compare
// litft with: the token ids of each text (special tokens parsed, no BOS added), the greedy continuation of each
// prompt, the next-token probabilities after each scored prompt (temperature 1, no top-k/top-p/min-p), and
// whether llama.cpp puts BOS before a text.
// With "lora", the continuations and probabilities are those of the model with that LoRA adapter GGUF applied; with
// "chats" (lists of {role, content} ending with a user turn), each conversation as the GGUF's own chat template
// renders it with the generation prompt (node-llama-cpp's JinjaTemplateChatWrapper, its own Jinja engine).
// Usage: node llama_cpp.mjs NODE_DIR REQUEST.json, where NODE_DIR holds node_modules/node-llama-cpp (`npm i` there)
// and the request is {"model": "x.gguf", "texts": [...], "prompts": [[ids]], "max_tokens": 16, "scored": [[ids]],
// "vocab_size": 384, "lora": "adapter.gguf", "chats": [[{"role": "user", "content": "Hi"}]]}.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// An ES module finds packages only beside itself (NODE_PATH does not apply), so the install folder is given.
const entry = join(process.argv[2], "node_modules", "node-llama-cpp", "dist", "index.js");
const { getLlama, JinjaTemplateChatWrapper } = await import(pathToFileURL(entry).href);
const request = JSON.parse(readFileSync(process.argv[3], "utf8"));
// The prebuilt CPU binary only: the test machines have no GPU and must not compile llama.cpp.
const llama = await getLlama({ gpu: false, build: "never", logLevel: process.env.LLAMA_LOG ?? "error" });
const model = await llama.loadModel({ modelPath: request.model });
const tokens = (request.texts ?? []).map((text) => Array.from(model.tokenize(text, true)));
const addBos = model.tokens.shouldPrependBosToken;
const template = model.fileInfo.metadata?.tokenizer?.chat_template;
const turn = (m) =>
  m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content };
const chats = (request.chats ?? []).map((messages) => {
  const wrapper = new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
  const history = [...messages.map(turn), { type: "model", response: [] }];
  return wrapper.generateContextState({ chatHistory: history }).contextText.toString();
});

const lora = request.lora ? { lora: { adapters: [{ filePath: request.lora }] } } : {};
const context = await model.createContext({ contextSize: 512, sequences: 1, threads: 2, ...lora });
const sequence = context.getSequence();
const continuations = [];
for (const prompt of request.prompts ?? []) {
  await sequence.clearHistory();
  const generated = [];
  for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    generated.push(token);
    if (generated.length >= request.max_tokens || model.isEogToken(token)) break;
  }
  continuations.push(generated);
}
const plain = { temperature: 1, topK: 0, topP: 1, minP: 0 };
const probabilities = [];
for (const prompt of request.scored ?? []) {
  await sequence.clearHistory();
  const items = prompt.map((token, i) =>
    i === prompt.length - 1 ? [token, { generateNext: { probabilities: true, options: plain } }] : token,
  );
  const result = await sequence.controlledEvaluate(items);
  const dense = new Array(request.vocab_size).fill(0);
  for (const [token, probability] of result[result.length - 1].next.probabilities) dense[token] = probability;
  probabilities.push(dense);
}
await context.dispose();
await model.dispose();
process.stdout.write(
  JSON.stringify({ tokens, continuations, probabilities, add_bos: addBos, chat_template: template ?? null, chats }) +
    "\n",
);

// The blind review page: one question at a time, every score posted (and saved) the moment it is given.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const state = { reviewer: null, rubric: [], count: 0, index: 0, question: null, selected: 0, progress: null };
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers["X-Review-Token"] = token;
  const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    throw new Error(detail.detail || response.statusText);
  }
  return response.json();
}

// A note fades after a moment; an error (a score the server could not save) stays until the next success.
function say(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
  status.setAttribute("role", error ? "alert" : "status");
  if (text && !error) setTimeout(() => { if (status.textContent === text) status.textContent = ""; }, 2500);
}

function hashIndex() {
  const match = /q=(\d+)/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

function showProgress(progress) {
  state.progress = progress;
  const share = progress.total ? (100 * progress.scored) / progress.total : 0;
  $("bar").style.width = `${share}%`;
  $("progress-text").textContent = `${progress.scored} / ${progress.total} answers scored`;
}

function renderRubric() {
  const list = $("rubric-list");
  list.replaceChildren();
  for (const entry of state.rubric) {
    const term = document.createElement("dt");
    term.textContent = `${entry.score} ${entry.name}`;
    const meaning = document.createElement("dd");
    meaning.textContent = entry.meaning;
    list.append(term, meaning);
  }
}

function renderAnswer(answer, position) {
  const node = $("answer-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = answer.id;
  node.querySelector(".letter").textContent = `Answer ${answer.letter}`;
  if (answer.shared_by > 1) {
    const shared = node.querySelector(".shared");
    shared.hidden = false;
    shared.textContent = `${answer.shared_by} models gave this same answer: your score counts for each of them.`;
  }
  node.querySelector(".text").textContent = answer.text || "(empty answer)";
  const buttons = node.querySelector(".scores");
  buttons.setAttribute("aria-label", `score for answer ${answer.letter}`);
  for (const entry of state.rubric) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "score";
    button.dataset.score = entry.score;
    button.textContent = `${entry.score} ${entry.name}`;
    button.title = entry.meaning;
    button.addEventListener("click", (event) => {
      event.stopPropagation();  // the answer's own click handler would select it again
      giveScore(position, entry.score);
    });
    buttons.append(button);
  }
  const note = node.querySelector(".note");
  note.value = answer.note || "";
  note.addEventListener("change", () => saveNote(position));
  node.addEventListener("click", () => select(position));
  return node;
}

function paint() {
  const nodes = $("answers").children;
  state.question.answers.forEach((answer, i) => {
    const node = nodes[i];
    node.classList.toggle("selected", i === state.selected);
    node.classList.toggle("scored", answer.score !== null);
    for (const button of node.querySelectorAll("button.score")) {
      button.classList.toggle("chosen", Number(button.dataset.score) === answer.score);
      button.setAttribute("aria-pressed", String(Number(button.dataset.score) === answer.score));
    }
  });
}

function select(position) {
  state.selected = Math.max(0, Math.min(position, state.question.answers.length - 1));
  paint();
}

async function load(index) {
  const question = await api(`api/${state.reviewer}/questions/${index}`);
  state.index = index;
  state.question = question;
  history.replaceState(null, "", `${location.search}#q=${index}`);
  $("position").textContent = `Question ${index + 1} of ${question.count}`;
  $("question-text").textContent = question.question;
  $("reference-text").textContent = question.reference;
  $("unanswerable-note").hidden = question.answerable !== false;
  $("answers").replaceChildren(...question.answers.map(renderAnswer));
  const unscored = question.answers.findIndex((answer) => answer.score === null);
  select(unscored === -1 ? 0 : unscored);
}

async function post(position, score) {
  const answer = state.question.answers[position];
  const note = $("answers").children[position].querySelector(".note").value;
  const saved = await api(`api/${state.reviewer}/scores`, { item: answer.id, score, note });
  answer.score = score;
  answer.note = note;
  showProgress(saved);
}

async function giveScore(position, score) {
  // The next unscored answer is selected at once, so a key pressed before the reply scores that one.
  const next = state.question.answers.findIndex((answer, i) => i > position && answer.score === null);
  select(next === -1 ? position : next);
  try {
    await post(position, score);
    paint();
    say(`saved: Answer ${state.question.answers[position].letter} = ${score}`);
  } catch (error) {
    select(position);  // back to the answer whose score was lost, so giving it again is one key
    say(`not saved: ${error.message}`, true);
  }
}

async function saveNote(position) {
  const answer = state.question.answers[position];
  if (answer.score === null) return say("give a score and the note is saved with it");
  try {
    await post(position, answer.score);
    say("note saved");
  } catch (error) {
    say(`note not saved: ${error.message}`, true);
  }
}

function go(step) {
  const target = state.index + step;
  if (target >= 0 && target < state.count) load(target);
}

function nextUnscored() {
  const questions = state.progress.questions;
  for (let step = 1; step <= questions.length; step++) {
    const i = (state.index + step) % questions.length;
    if (questions[i].scored < questions[i].total) return load(i);
  }
  say("every answer is scored");
}

function onKey(event) {
  if (!state.question || event.target.closest("textarea, input") || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (/^[0-3]$/.test(key)) giveScore(state.selected, Number(key));
  else if (key === "n" || key === "ArrowRight") go(1);
  else if (key === "p" || key === "ArrowLeft") go(-1);
  else if (key === "u") nextUnscored();
  else if (key === "j" || key === "ArrowDown") select(state.selected + 1);
  else if (key === "k" || key === "ArrowUp") select(state.selected - 1);
  else return;
  event.preventDefault();
}

async function start(reviewer) {
  state.reviewer = reviewer;
  localStorage.setItem("litft-review-name", reviewer);
  $("name-form").hidden = true;
  $("who").textContent = `reviewer: ${reviewer}`;
  const progress = await api(`api/${reviewer}/progress`);
  showProgress(progress);
  $("review").hidden = false;
  const wanted = hashIndex();
  await load(wanted !== null && wanted < state.count ? wanted : progress.resume);
}

async function main() {
  const config = await api("api/config");
  state.rubric = config.rubric;
  state.count = config.questions;
  renderRubric();
  $("back").addEventListener("click", () => go(-1));
  $("next").addEventListener("click", () => go(1));
  $("next-unscored").addEventListener("click", nextUnscored);
  document.addEventListener("keydown", onKey);
  const known = config.reviewer || params.get("reviewer") || localStorage.getItem("litft-review-name");
  if (known) return start(known);
  $("progress-text").textContent = "";
  $("name-form").hidden = false;
  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start($("name").value.trim()).catch((error) => say(error.message, true));
  });
}

main().catch((error) => say(`error: ${error.message}`, true));

"""The questionnaire page: one self-contained HTML file that works from ``file://`` (no server).

The page holds the study id, the question, the choices and, per item, its id and image URLs
(relative ``images/...`` files or ``data:`` URIs) — never the conditions or the answer key.
A participant types an id, answers one item at a time (click, or the arrow keys / digits
1–6; *Back* changes an answer) and at the end downloads ``answers-<study>-<participant>.csv``
(a Blob link) with the columns of :data:`ANSWER_COLUMNS`.

Example:
    >>> "study_id,participant,item_id,choice" in _SCRIPT
    True
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping

from emobench.atomic import write_text_atomic
from emobench.study.design import StudyDesign

ANSWER_COLUMNS = ("study_id", "participant", "item_id", "choice")
PARTICIPANT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

INSTRUCTIONS = {
    "realism": "Each screen shows two photos of a face. Click the one that looks more realistic, more like a "
               "real, unedited photo (or press the left/right arrow key). Go with your first impression.",
    "emotion": "Each screen shows a face. Choose the emotion it shows (or press 1–6). Go with your first "
               "impression.",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
.images{display:flex;gap:2em;justify-content:center;margin:1em 0}
.images img{width:min(40vw,55vh,384px);height:auto;border:3px solid transparent}
button.pick{border:none;background:none;padding:0;cursor:pointer}
button.pick.chosen img,button.choice.chosen{outline:3px solid #1a73e8}
.choices{display:flex;flex-wrap:wrap;gap:.6em;justify-content:center}
button.choice,#begin,#back,a.button{font-size:1.05em;padding:.5em 1em;cursor:pointer}
a.button{display:inline-block;background:#1a73e8;color:#fff;text-decoration:none;border-radius:4px}
.error{color:#b00020}
#progress{color:#666}
"""

_SCRIPT = r"""
"use strict";
const STUDY = JSON.parse(document.getElementById("study-data").textContent);
const PATTERN = new RegExp(STUDY.participant_pattern);
const state = {participant: "", index: 0, answers: new Map(), platform: "direct", ids: {}, queue: Promise.resolve()};
const $ = (id) => document.getElementById(id);
// Served by `emobench study serve`: answers go to the server as they are given (in order, one request
// at a time), the item order is the participant's own, a closed tab resumes where it stopped.
const SERVER = STUDY.server === true;

function csvField(value) {
  const text = String(value);
  return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

function answersCsv() {
  const lines = ["study_id,participant,item_id,choice"];
  for (const item of STUDY.items) {
    if (state.answers.has(item.id)) {
      lines.push([STUDY.study_id, state.participant, item.id, state.answers.get(item.id)].map(csvField).join(","));
    }
  }
  return lines.join("\n") + "\n";
}

function button(cls, choice, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.dataset.choice = choice;
  if (label) b.textContent = label;
  if (state.answers.get(STUDY.items[state.index].id) === choice) b.classList.add("chosen");
  b.addEventListener("click", () => answer(choice));
  return b;
}

function image(src, alt) {
  const img = document.createElement("img");
  img.src = src;
  img.alt = alt;
  return img;
}

function show(index) {
  state.index = index;
  const item = STUDY.items[index];
  $("trial").dataset.item = item.id;
  $("progress").textContent = `Question ${index + 1} of ${STUDY.items.length}`;
  const images = $("images"), choices = $("choices");
  images.replaceChildren();
  choices.replaceChildren();
  if (STUDY.kind === "realism") {
    STUDY.choices.forEach((side, k) => {
      const b = button("pick", side, "");
      b.append(image(item.images[k], `${side} photo`));
      images.append(b);
    });
  } else {
    images.append(image(item.images[0], "face"));
    STUDY.choices.forEach((choice, k) => choices.append(button("choice", choice, `${k + 1}. ${choice}`)));
  }
  $("back").disabled = index === 0;
}

function answer(choice) {
  const id = STUDY.items[state.index].id;
  state.answers.set(id, choice);
  if (SERVER) save("answer", {participant: state.participant, item_id: id, choice: choice});
  if (state.index + 1 < STUDY.items.length) show(state.index + 1);
  else finish();
}

function finish() {
  if (SERVER) { serverFinish(); return; }
  $("trial").hidden = true;
  $("done").hidden = false;
  const link = $("download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([answersCsv()], {type: "text/csv"}));
  link.download = `answers-${STUDY.study_id}-${state.participant}.csv`;
  $("answered").textContent = `${state.answers.size} of ${STUDY.items.length} answered.`;
}

$("begin").addEventListener("click", () => {
  const id = $("participant").value.trim();
  if (!PATTERN.test(id)) {
    $("start-error").textContent = "Please enter a participant id: 1–64 letters, digits, '.', '_' or '-'.";
    return;
  }
  state.participant = id;
  if (SERVER) { serverBegin(); return; }
  $("start").hidden = true;
  $("trial").hidden = false;
  show(0);
});
$("back").addEventListener("click", () => { if (state.index > 0) show(state.index - 1); });
if (SERVER) serverArrive();
$("review").addEventListener("click", () => { $("done").hidden = true; $("trial").hidden = false; show(STUDY.items.length - 1); });
document.addEventListener("keydown", (event) => {
  if ($("trial").hidden || event.target.tagName === "INPUT") return;
  const keys = STUDY.kind === "realism" ? {ArrowLeft: "left", ArrowRight: "right"}
    : Object.fromEntries(STUDY.choices.map((c, k) => [String(k + 1), c]));
  if (keys[event.key]) answer(keys[event.key]);
});
"""

_SERVER_SCRIPT = r"""
async function post(action, body) {
  const response = await fetch("api/" + action, {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(body)});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  return data;
}

function save(action, body) {
  state.queue = state.queue.then(() => post(action, body)).then(() => { $("save-error").textContent = ""; },
    (error) => { $("save-error").textContent = "An answer was not saved (" + error.message + "). Check your " +
                 "connection and reload the page: your earlier answers are kept."; });
  return state.queue;
}

function serverArrive() {
  const q = new URLSearchParams(window.location.search);
  let id = q.get("participant") || "";
  if (q.get("PROLIFIC_PID")) {
    state.platform = "prolific";
    id = q.get("PROLIFIC_PID");
    state.ids = {STUDY_ID: q.get("STUDY_ID") || "", SESSION_ID: q.get("SESSION_ID") || ""};
  } else if (q.get("workerId") || q.get("assignmentId")) {
    state.platform = "mturk";
    id = q.get("workerId") || "";
    state.ids = {assignmentId: q.get("assignmentId") || "", hitId: q.get("hitId") || "",
                 turkSubmitTo: q.get("turkSubmitTo") || ""};
    if (state.ids.assignmentId === "ASSIGNMENT_ID_NOT_AVAILABLE") {
      $("begin").disabled = true;
      $("start-error").textContent = "This is a preview: accept the HIT to start.";
      return;
    }
  }
  $("save-note").hidden = false;
  $("local-note").hidden = true;
  if (id) {
    $("participant").value = id;
    if (state.platform !== "direct") { $("participant").readOnly = true; $("begin").click(); }
  }
}

async function serverBegin() {
  let data;
  try {
    data = await post("start", {participant: state.participant, platform: state.platform, ids: state.ids});
  } catch (error) {
    $("start-error").textContent = error.message;
    return;
  }
  $("start").hidden = true;
  if (data.finished) { done(data); return; }
  const byId = new Map(STUDY.items.map((item) => [item.id, item]));
  STUDY.items = data.order.map((id) => byId.get(id));
  state.answers = new Map(Object.entries(data.answers));
  const next = STUDY.items.findIndex((item) => !state.answers.has(item.id));
  $("trial").hidden = false;
  show(next < 0 ? STUDY.items.length - 1 : next);
}

async function serverFinish() {
  await state.queue;
  let data;
  try {
    data = await post("finish", {participant: state.participant});
  } catch (error) {
    $("save-error").textContent = "Could not finish (" + error.message + "); try again.";
    return;
  }
  done(data);
}

function done(data) {
  $("trial").hidden = true;
  $("done").hidden = false;
  $("download").hidden = true;
  $("review").hidden = true;
  $("send-note").hidden = true;
  $("answered").textContent = data.message;
  $("completion").textContent = data.code ? "Your completion code: " + data.code : "";
  if (data.redirect) window.location.assign(data.redirect);
  if (data.mturk) {
    const form = document.createElement("form");
    form.method = "POST";
    form.action = data.mturk.action;
    for (const [name, value] of Object.entries(data.mturk.fields)) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value;
      form.append(input);
    }
    document.body.append(form);
    form.submit();
  }
}
"""


def page_data(design: StudyDesign, urls: Mapping[str, str], server: bool = False) -> dict:
    """What the page needs, and nothing that gives the answers away."""
    return {"study_id": design.study_id, "kind": design.kind, "question": design.question, "server": server,
            "choices": list(design.choices), "participant_pattern": PARTICIPANT_PATTERN,
            "items": [{"id": i.item_id, "images": [urls[name] for name in i.images]} for i in design.items]}


def render_page(design: StudyDesign, urls: Mapping[str, str], server: bool = False) -> str:
    """The questionnaire HTML; ``urls`` maps each design image name to its ``src``. ``server``: the page
    of ``emobench study serve`` (answers saved as they are given, platform links, completion codes)."""
    data = json.dumps(page_data(design, urls, server)).replace("</", "<\\/")
    script = _SCRIPT + (_SERVER_SCRIPT if server else "")
    title = "Realism study" if design.kind == "realism" else "Emotion study"
    esc = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{_STYLE}</style></head>
<body>
<section id="start">
<h1>{esc(title)}</h1>
<p>{esc(INSTRUCTIONS[design.kind])}</p>
<p id="local-note">{len(design.items)} questions. Your answers stay on this computer until you download them at the end.</p>
<p id="save-note" hidden>{len(design.items)} questions. Your answers are saved as you go: if you close this page, open
the same link again to continue.</p>
<p><label>Participant id <input id="participant" autocomplete="off" maxlength="64"></label>
<button id="begin" type="button">Start</button></p>
<p id="start-error" class="error"></p>
</section>
<section id="trial" hidden>
<p id="progress"></p>
<h2 id="question">{esc(design.question)}</h2>
<div id="images" class="images"></div>
<div id="choices" class="choices"></div>
<p><button id="back" type="button">Back</button></p>
<p id="save-error" class="error"></p>
</section>
<section id="done" hidden>
<h2>Thank you!</h2>
<p id="answered"></p>
<p id="completion"></p>
<p id="send-note">Download your answers and send the file to the person running the study.</p>
<p><a id="download" class="button">Download answers (CSV)</a>
<button id="review" type="button">Review answers</button></p>
</section>
<script id="study-data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""


def write_page(design: StudyDesign, path: Path, urls: Mapping[str, str]) -> Path:
    """Write the questionnaire to ``path`` (atomically)."""
    write_text_atomic(path, render_page(design, urls))
    return path

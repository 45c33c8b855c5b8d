// The API page's console: one of the API's operations, filled in from its OpenAPI spec, called from this
// browser straight to the API (its gateway allows the marketplace's origin by CORS), and the same call as code.
// The key lives in sessionStorage, is sent only to the API, and never appears in the code shown: that says $APID_KEY.
"use strict";
(() => {
  const KEY_HEADER = "x-api-key";
  const KEY_VARIABLE = "APID_KEY";
  const MAX_DEPTH = 8;

  // --- The OpenAPI spec: local $refs, parameters, and a value for every schema. ---

  function resolve(spec, value) {
    let seen = 0;
    while (value && typeof value === "object" && typeof value.$ref === "string" && seen++ < 32) {
      if (!value.$ref.startsWith("#/")) return {};
      let target = spec;
      for (const part of value.$ref.slice(2).split("/")) {
        const name = part.replace(/~1/g, "/").replace(/~0/g, "~");
        target = target && typeof target === "object" ? target[name] : undefined;
      }
      value = target;
    }
    return value && typeof value === "object" ? value : {};
  }

  function operation(spec, method, path) {
    const item = resolve(spec, (spec.paths || {})[path]);
    const found = resolve(spec, item[method.toLowerCase()]);
    const byKey = new Map();
    for (const raw of [...(item.parameters || []), ...(found.parameters || [])]) {
      const parameter = resolve(spec, raw);
      if (parameter.name && parameter.in) byKey.set(`${parameter.in}:${parameter.name}`, parameter);
    }
    return { method: method.toUpperCase(), path, parameters: [...byKey.values()], requestBody: resolve(spec, found.requestBody) };
  }

  function firstExample(holder) {
    if (!holder || typeof holder !== "object") return undefined;
    if ("example" in holder) return holder.example;
    const examples = holder.examples;
    if (Array.isArray(examples) && examples.length) return examples[0];
    if (examples && typeof examples === "object") {
      const first = Object.values(examples)[0];
      if (first && typeof first === "object" && "value" in first) return first.value;
    }
    return undefined;
  }

  function exampleOf(spec, schema, depth = 0, refs = []) {
    if (schema && typeof schema.$ref === "string") {
      if (refs.includes(schema.$ref) || depth > MAX_DEPTH) return null;  // a recursive model: stop at its first return
      return exampleOf(spec, resolve(spec, schema), depth + 1, [...refs, schema.$ref]);
    }
    schema = schema && typeof schema === "object" ? schema : {};
    const given = firstExample(schema);
    if (given !== undefined) return given;
    if ("default" in schema) return schema.default;
    if ("const" in schema) return schema.const;
    if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
    if (Array.isArray(schema.allOf)) {
      const parts = schema.allOf.map((part) => exampleOf(spec, part, depth + 1, refs));
      if (parts.every((part) => part && typeof part === "object" && !Array.isArray(part))) return Object.assign({}, ...parts);
      return parts[0] ?? null;
    }
    const alternatives = schema.anyOf || schema.oneOf;
    if (Array.isArray(alternatives) && alternatives.length) {
      const chosen = alternatives.find((choice) => resolve(spec, choice).type !== "null") || alternatives[0];
      return exampleOf(spec, chosen, depth + 1, refs);
    }
    let type = schema.type;
    if (Array.isArray(type)) type = type.find((t) => t !== "null") || "null";
    if (!type) type = schema.properties ? "object" : schema.items ? "array" : undefined;
    if (depth > MAX_DEPTH) return null;
    switch (type) {
      case "object": {
        const value = {};
        for (const [name, property] of Object.entries(schema.properties || {})) {
          value[name] = exampleOf(spec, property, depth + 1, refs);
        }
        return value;
      }
      case "array":
        return [exampleOf(spec, schema.items || {}, depth + 1, refs)];
      case "integer":
      case "number":
        return typeof schema.minimum === "number" ? schema.minimum : 0;
      case "boolean":
        return false;
      case "null":
        return null;
      case "string":
        return {
          date: "2026-01-01",
          "date-time": "2026-01-01T00:00:00Z",
          email: "user@example.com",
          uri: "https://example.com",
          uuid: "00000000-0000-0000-0000-000000000000",
          binary: "",
        }[schema.format] ?? "string";
      default:
        return null;
    }
  }

  function parameterValue(spec, parameter) {
    const given = firstExample(parameter);
    if (given !== undefined) return given;
    const schema = resolve(spec, parameter.schema);
    for (const value of [firstExample(schema), schema.default, Array.isArray(schema.enum) ? schema.enum[0] : undefined]) {
      if (value !== undefined) return value;
    }
    return parameter.required ? exampleOf(spec, parameter.schema) : undefined;
  }

  function asText(value) {
    if (value === undefined || value === null) return "";
    if (Array.isArray(value)) return value.map(asText).join(",");
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  // The body: the first JSON type if there is one, else the first declared; its example, or one made from its schema.
  function bodyOf(spec, requestBody) {
    const content = requestBody.content || {};
    const types = Object.keys(content);
    if (!types.length) return null;
    const type = types.find((t) => /^application\/([\w.+-]+\+)?json\b/.test(t)) || types[0];
    const media = content[type] || {};
    const given = firstExample(media);
    const value = given !== undefined ? given : exampleOf(spec, media.schema || {});
    const json = /json/.test(type) || /form/.test(type);
    return { type, text: json ? JSON.stringify(value, null, 2) : asText(value), required: Boolean(requestBody.required) };
  }

  // --- One call: what the form says, as a request, and as code. ---

  function buildRequest(baseUrl, op, values, key, body) {
    let path = op.path;
    const query = new URLSearchParams();
    const headers = [];
    const skipped = [];
    op.parameters.forEach((parameter, index) => {
      const value = values[index];
      if (value === "" || value === undefined) return;
      if (parameter.in === "path") path = path.replace(`{${parameter.name}}`, encodeURIComponent(value));
      else if (parameter.in === "query") {
        const schema = parameter.schema || {};
        const many = schema.type === "array" && parameter.explode !== false;
        for (const one of many ? value.split(",") : [value]) query.append(parameter.name, one);
      } else if (parameter.in === "header") headers.push([parameter.name, value]);
      else skipped.push(parameter.name);  // a cookie: a page's script cannot set one for another site
    });
    headers.unshift([KEY_HEADER, key]);
    const search = query.toString();
    const request = { method: op.method, url: `${baseUrl}${path}${search ? `?${search}` : ""}`, headers, body: null, form: null, skipped };
    if (body && body.text.trim() !== "" && !["GET", "HEAD"].includes(op.method)) {
      if (/x-www-form-urlencoded|multipart\/form-data/.test(body.type)) {
        request.form = { multipart: body.type.startsWith("multipart/"), fields: Object.entries(JSON.parse(body.text)) };
      } else {
        request.headers.push(["content-type", body.type]);
        request.body = body.text;
        request.json = /json/.test(body.type) ? JSON.parse(body.text) : undefined;
      }
    }
    return request;
  }

  function fetchOptions(request) {
    const headers = new Headers(request.headers);
    let body = request.body;
    if (request.form) {
      const fields = request.form.fields.map(([name, value]) => [name, asText(value)]);
      if (request.form.multipart) {
        body = new FormData();
        for (const [name, value] of fields) body.append(name, value);
      } else body = new URLSearchParams(fields);
    }
    // No cookies and no referrer to the API: the key is the only credential, and the page is none of its business.
    return { method: request.method, headers, body, credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" };
  }

  const shell = (text) => `'${String(text).replace(/'/g, "'\\''")}'`;

  function python(value, indent = "") {
    if (value === null) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
    const inner = `${indent}    `;
    if (Array.isArray(value)) {
      return value.length ? `[\n${value.map((v) => `${inner}${python(v, inner)},`).join("\n")}\n${indent}]` : "[]";
    }
    const entries = Object.entries(value);
    return entries.length
      ? `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${python(v, inner)},`).join("\n")}\n${indent}}`
      : "{}";
  }

  function snippets(request) {
    const shown = request.headers.map(([name, value]) => [name, name === KEY_HEADER ? null : value]);
    const form = request.form ? request.form.fields.map(([name, value]) => [name, asText(value)]) : null;

    // curl -X HEAD would wait for a body that never comes; -I asks for the headers alone.
    const curl = [`curl ${request.method === "HEAD" ? "-I" : `-X ${request.method}`} ${shell(request.url)}`];
    for (const [name, value] of shown) curl.push(value === null ? `-H "${name}: $${KEY_VARIABLE}"` : `-H ${shell(`${name}: ${value}`)}`);
    if (request.body !== null) curl.push(`--data-raw ${shell(request.body)}`);
    for (const [name, value] of form || []) curl.push(`${request.form.multipart ? "-F" : "--data-urlencode"} ${shell(`${name}=${value}`)}`);

    const pyHeaders = shown.map(([name, value]) => `${JSON.stringify(name)}: ${value === null ? `os.environ[${JSON.stringify(KEY_VARIABLE)}]` : JSON.stringify(value)}`);
    const pyLines = ["import os", "", "import httpx", "", "response = httpx.request(", `    ${JSON.stringify(request.method)},`, `    ${JSON.stringify(request.url)},`];
    pyLines.push(`    headers={${pyHeaders.join(", ")}},`);
    if (request.json !== undefined) pyLines.push(`    json=${python(request.json, "    ")},`);
    else if (request.body !== null) pyLines.push(`    content=${JSON.stringify(request.body)},`);
    if (form && request.form.multipart) pyLines.push(`    files={${form.map(([n, v]) => `${JSON.stringify(n)}: (None, ${JSON.stringify(v)})`).join(", ")}},`);
    else if (form) pyLines.push(`    data={${form.map(([n, v]) => `${JSON.stringify(n)}: ${JSON.stringify(v)}`).join(", ")}},`);
    pyLines.push(")", 'print(response.status_code, response.headers.get("RateLimit"))', "print(response.text)");

    const jsHeaders = shown.map(([name, value]) => `${JSON.stringify(name)}: ${value === null ? `process.env.${KEY_VARIABLE}` : JSON.stringify(value)}`);
    const jsLines = [];
    if (form && request.form.multipart) {
      jsLines.push("const form = new FormData();", ...form.map(([n, v]) => `form.append(${JSON.stringify(n)}, ${JSON.stringify(v)});`));
    }
    jsLines.push(`const response = await fetch(${JSON.stringify(request.url)}, {`, `  method: ${JSON.stringify(request.method)},`, `  headers: { ${jsHeaders.join(", ")} },`);
    if (request.json !== undefined) jsLines.push(`  body: JSON.stringify(${JSON.stringify(request.json, null, 2).replace(/\n/g, "\n  ")}),`);
    else if (request.body !== null) jsLines.push(`  body: ${JSON.stringify(request.body)},`);
    else if (form && request.form.multipart) jsLines.push("  body: form,");
    else if (form) jsLines.push(`  body: new URLSearchParams(${JSON.stringify(Object.fromEntries(form))}),`);
    jsLines.push("});", 'console.log(response.status, response.headers.get("RateLimit"));', "console.log(await response.text());");
    return { curl: curl.join(" \\\n  "), python: pyLines.join("\n"), javascript: jsLines.join("\n") };
  }

  // For tests: the pure parts, without a page.
  window.apidTryIt = { operation, exampleOf, parameterValue, bodyOf, buildRequest, snippets };

  // --- The page. ---

  const root = document.getElementById("try-it");
  if (!root) return;
  const spec = JSON.parse(document.getElementById("openapi-document").textContent);
  const baseUrl = root.dataset.baseUrl.replace(/\/+$/, "");
  const storageKey = `apid-key:${root.dataset.apiId}`;
  const $ = (id) => document.getElementById(id);
  const chooser = $("try-operation");
  const keyInput = $("try-key");
  const params = $("try-params");
  const bodyField = $("try-body-field");
  const bodyInput = $("try-body");
  let current = null;
  let currentBody = null;

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null;  // storage disabled: the key lives in the field alone
    }
  }

  function showOperation() {
    const [method, ...rest] = chooser.value.split(" ");
    current = operation(spec, method, rest.join(" "));
    params.replaceChildren();
    current.parameters.forEach((parameter, index) => {
      const field = document.createElement("div");
      field.className = "field";
      const label = document.createElement("label");
      label.htmlFor = `try-param-${index}`;
      label.textContent = `${parameter.name} `;
      const where = document.createElement("span");
      where.className = "muted";
      const type = resolve(spec, parameter.schema).type || "";
      where.textContent = `(${parameter.in}${type ? `, ${type}` : ""}${parameter.required ? ", required" : ""})`;
      label.append(where);
      const input = document.createElement("input");
      input.id = `try-param-${index}`;
      input.value = asText(parameterValue(spec, parameter));
      input.required = Boolean(parameter.required);
      input.spellcheck = false;
      if (parameter.description) input.title = parameter.description;
      if (parameter.in === "cookie") {
        input.disabled = true;
        where.textContent += ": a browser cannot send another site's cookie; use the code below";
      }
      input.addEventListener("input", refreshCode);
      field.append(label, input);
      params.append(field);
    });
    if (!current.parameters.length) params.textContent = "None.";
    currentBody = bodyOf(spec, current.requestBody);
    bodyField.hidden = !currentBody;
    bodyInput.value = currentBody ? currentBody.text : "";
    $("try-body-type").textContent = currentBody ? `(${currentBody.type}${/form/.test(currentBody.type) ? ", its fields as JSON" : ""})` : "";
    refreshCode();
  }

  function currentRequest(key) {
    const values = current.parameters.map((_, index) => $(`try-param-${index}`).value);
    const body = currentBody ? { ...currentBody, text: bodyInput.value } : null;
    return buildRequest(baseUrl, current, values, key, body);
  }

  function refreshCode() {
    let code;
    try {
      code = snippets(currentRequest(""));
    } catch (error) {
      const why = `The body is not valid JSON: ${error.message}`;
      code = { curl: why, python: why, javascript: why };
    }
    $("try-curl").value = code.curl;
    $("try-python").value = code.python;
    $("try-javascript").value = code.javascript;
  }

  async function send(event) {
    event.preventDefault();
    const key = keyInput.value.trim();
    const answer = $("try-response");
    answer.hidden = false;
    $("try-note").textContent = "";
    if (!key) {
      $("try-status").textContent = "No key";
      $("try-note").textContent = "Paste your API key first (subscribe to a plan to get one).";
      keyInput.focus();
      return;
    }
    storage()?.setItem(storageKey, key);
    let request;
    try {
      request = currentRequest(key);
    } catch (error) {
      $("try-status").textContent = "Not sent";
      $("try-note").textContent = `The body is not valid JSON: ${error.message}`;
      return;
    }
    $("try-status").textContent = "Sending…";
    $("try-response-headers").value = "";
    $("try-response-body").value = "";
    try {
      const response = await fetch(request.url, fetchOptions(request));
      const text = await response.text();
      $("try-status").textContent = `${response.status} ${response.statusText}`.trim();
      $("try-response-headers").value = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: shown as sent
      }
      $("try-response-body").value = shown;
      if (request.skipped.length) $("try-note").textContent = `Not sent (cookies): ${request.skipped.join(", ")}.`;
    } catch {
      $("try-status").textContent = "No answer";
      $("try-note").textContent =
        "The browser could not read an answer: the API is unreachable, or it does not allow this marketplace's " +
        "origin (CORS) yet. The code below still works from a terminal.";
    }
  }

  chooser.addEventListener("change", showOperation);
  bodyInput.addEventListener("input", refreshCode);
  root.querySelector("form").addEventListener("submit", send);
  $("try-forget").addEventListener("click", () => {
    storage()?.removeItem(storageKey);
    keyInput.value = "";
    keyInput.focus();
  });
  keyInput.value = storage()?.getItem(storageKey) || "";
  showOperation();
  root.hidden = false;
})();

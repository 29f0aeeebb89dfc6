// DOM helpers: nodes are built, never parsed from HTML strings, so nothing the API says can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attributes, children, asProperty) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else if (asProperty && name === "value") node.value = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children, true);
}

export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children, false);
}

// Tell screen readers what changed (a polite live region in the page).
export function announce(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  setTimeout(() => {
    status.textContent = text;
  }, 50);
}

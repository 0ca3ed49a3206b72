// @ts-check
/** Building DOM nodes: text always goes in as text, so nothing a device reports becomes markup. */

/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Leaf[] | Leaf[][]} Child */

/**
 * `el('td', { class: 'status', 'data-uuid': id }, 'text', otherNode)`: an element with its
 * attributes (`class`; `style` as an object; `on<event>` as listeners; null, undefined and false left out) and children.
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {Child[]} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = String(value);
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (name === 'style' && typeof value === 'object') Object.assign(node.style, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/**
 * @param {Node} parent
 * @param {Child[]} children
 */
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

// Passkey sign-up and sign-in on the devidp login page. The provider's WebAuthn options arrive as JSON with the
// binary fields in base64url (go-webauthn's encoding); they become ArrayBuffers for navigator.credentials, and the
// authenticator's answer goes back as JSON with its binary fields in base64url again.
(function () {
  "use strict";
  const box = document.getElementById("passkeys");
  const form = document.getElementById("login-form");
  const status = document.getElementById("passkey-status");
  if (!box || !form) return;

  function say(msg, isError) {
    status.textContent = msg;
    status.className = isError ? "error" : "hint";
  }
  function fromB64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    if (!buf) return null;
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  async function post(path, body) {
    body.id = form.elements.id.value;
    const resp = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) throw new Error(data.error || "the provider answered " + resp.status);
    return data;
  }
  function credentialJSON(c, response) {
    return {
      id: c.id, rawId: toB64u(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults(), response: response,
    };
  }

  async function signUp() {
    say("Creating a passkey…");
    const options = (await post(box.dataset.signUpBegin, {
      email: form.elements.username.value, name: form.elements.name.value, password: form.elements.password.value,
    })).publicKey;
    options.challenge = fromB64u(options.challenge);
    options.user.id = fromB64u(options.user.id);
    (options.excludeCredentials || []).forEach(function (d) { d.id = fromB64u(d.id); });
    const c = await navigator.credentials.create({publicKey: options});
    say("Checking the new passkey…");
    const done = await post(box.dataset.signUpFinish, {credential: credentialJSON(c, {
      clientDataJSON: toB64u(c.response.clientDataJSON),
      attestationObject: toB64u(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    })});
    location.assign(done.redirect);
  }

  async function signIn() {
    say("Waiting for your passkey…");
    const options = (await post(box.dataset.signInBegin, {})).publicKey;
    options.challenge = fromB64u(options.challenge);
    (options.allowCredentials || []).forEach(function (d) { d.id = fromB64u(d.id); });
    const c = await navigator.credentials.get({publicKey: options});
    say("Checking the passkey…");
    const done = await post(box.dataset.signInFinish, {credential: credentialJSON(c, {
      clientDataJSON: toB64u(c.response.clientDataJSON),
      authenticatorData: toB64u(c.response.authenticatorData),
      signature: toB64u(c.response.signature),
      userHandle: toB64u(c.response.userHandle),
    })});
    location.assign(done.redirect);
  }

  // plainMessage turns what a ceremony threw into a sentence for a person: the browser's WebAuthn errors
  // (DOMExceptions, whose messages are written for developers) by their name, the provider's refusals as they are.
  // (Between the markers: TestPasskeyMessages runs this function with node.)
  // plainMessage:begin
  function plainMessage(e, signingUp) {
    switch (e && e.name) {
      case "NotAllowedError":
        return signingUp
          ? "No passkey was created: the request was cancelled or timed out. You can try again."
          : "No passkey was used: this browser or device has no passkey for this site, or the request was cancelled. " +
            "Sign up with a passkey first, or sign in with your email and password.";
      case "InvalidStateError":
        return "This device already has a passkey for this account: use Sign in with a passkey.";
      case "AbortError":
        return "The passkey request was cancelled.";
      case "SecurityError":
        return "The browser refused passkeys on this address: open the page as http://localhost or over https.";
      case "NotSupportedError":
        return "This device cannot create the kind of passkey this site asks for.";
      case "UnknownError":
      case "ConstraintError":
        return "The passkey could not be used. You can try again, or sign in with your email and password.";
    }
    return (e && e.message) || String(e);
  }
  // plainMessage:end

  function run(ceremony, signingUp) {
    return function () {
      if (!window.PublicKeyCredential) {
        say("This browser does not support passkeys.", true);
        return;
      }
      ceremony().catch(function (e) { say(plainMessage(e, signingUp), true); });
    };
  }
  document.getElementById("passkey-signup").addEventListener("click", run(signUp, true));
  document.getElementById("passkey-signin").addEventListener("click", run(signIn, false));
})();

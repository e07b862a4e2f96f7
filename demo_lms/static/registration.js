// LTI Dynamic Registration 1.0 §3.6: the tool in the frame says it is done with
// postMessage({subject: "org.imsglobal.lti.close"}); then go back to the registration page, as
// Moodle's tool configuration does. Only the tool's own origin is listened to.
document.addEventListener("DOMContentLoaded", function () {
  var frame = document.querySelector("iframe[data-tool-origin]");
  if (!frame) {
    return;
  }
  var toolOrigin = frame.getAttribute("data-tool-origin");
  var doneUrl = frame.getAttribute("data-done-url");
  window.addEventListener("message", function (event) {
    if (event.origin !== toolOrigin || !event.data) {
      return;
    }
    if (event.data.subject === "org.imsglobal.lti.close") {
      window.location.assign(doneUrl);
    }
  });
});

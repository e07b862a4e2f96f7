// LTI Dynamic Registration 1.0 §3.6: the registration is stored; ask the LMS to close the
// window (Moodle) or the hidden iframe (ILIAS, which waits 10 s for this message). A file of its
// own because the tool's Content-Security-Policy allows no inline script.
(function () {
  var platform = window.opener || window.parent;
  if (platform && platform !== window) {
    platform.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
})();

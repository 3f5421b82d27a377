<?php
/**
 * Renders a similar answer (JSON on standard input) with the plugin's Block_Renderer and prints the
 * block: tests/test_wordpress_plugin.py compares it with the service's iframe page.
 *
 *     curl -s SERVICE/v1/articles/ID/similar | php render.php ['{"title": "...", "lang": "ar"}']
 *
 * @package RelatedHeadlines
 */

require __DIR__ . '/bootstrap.php';

$options = isset( $argv[1] ) ? json_decode( $argv[1], true ) : array();
echo RelatedHeadlines\Block_Renderer::render( json_decode( stream_get_contents( STDIN ), true ), is_array( $options ) ? $options : array() );

/* The Related headlines block in the editor: no build step, WordPress's globals only. It saves
 * nothing (the block is rendered on the server, see includes/class-display.php); the editor shows the
 * server's rendering and two settings. */
( function ( wp ) {
	'use strict';
	var el = wp.element.createElement;
	var __ = wp.i18n.__;
	var blockEditor = wp.blockEditor;
	var components = wp.components;
	var ServerSideRender = wp.serverSideRender;
	var NAME = 'related-headlines/related-headlines';

	function empty() {
		return el( components.Placeholder, {
			icon: 'list-view',
			label: __( 'Related headlines', 'related-headlines' ),
			instructions: __( 'Nothing to show yet: the block lists similar stories once the post is published and the service has related ones.', 'related-headlines' ),
		} );
	}

	wp.blocks.registerBlockType( NAME, {
		edit: function ( props ) {
			var attributes = props.attributes;
			var blockProps = blockEditor.useBlockProps ? blockEditor.useBlockProps() : {};
			var postId = props.context && props.context.postId;
			return el(
				'div',
				blockProps,
				el(
					blockEditor.InspectorControls,
					null,
					el(
						components.PanelBody,
						{ title: __( 'Block', 'related-headlines' ) },
						el( components.RangeControl, {
							label: __( 'Number of items (0: the site setting)', 'related-headlines' ),
							min: 0,
							max: 20,
							value: attributes.k,
							onChange: function ( value ) {
								props.setAttributes( { k: value || 0 } );
							},
						} ),
						el( components.TextControl, {
							label: __( 'Title (blank: the site setting)', 'related-headlines' ),
							value: attributes.title,
							onChange: function ( value ) {
								props.setAttributes( { title: value } );
							},
						} )
					)
				),
				el( ServerSideRender, {
					block: NAME,
					attributes: attributes,
					urlQueryArgs: postId ? { post_id: postId } : {},
					EmptyResponsePlaceholder: empty,
				} )
			);
		},
		save: function () {
			return null;
		},
	} );
} )( window.wp );
